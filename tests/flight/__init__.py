"""Tests of the onboard room: container, packets, uplink reports, RICE_1, rANS, int8 kernels, IDF."""
