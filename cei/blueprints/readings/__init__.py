"""Reading data back: ``/api/v1/timeseries/{summary,series,export,coverage}``."""
