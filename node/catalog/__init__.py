"""The catalogue of services: the 26 activities of art. D7231-1 and who may provide each."""
