"""One simulated mission: the simpy processes (camera, CPU cores, radio, faults), the parts they share (storage,
downlink queue, coder, link, ground segment) and the metrics of a run. :mod:`sim.mission.engine` builds the parts
and hands them to the processes; no process imports the engine.
"""
