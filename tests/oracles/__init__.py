"""Independent implementations the tests compare flight code against."""
