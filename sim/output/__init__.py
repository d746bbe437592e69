"""What a run leaves behind: the text summary, metrics.json and CSVs, plots, the output folder."""
