"""Command-line interface: thin layers that parse, call one library function, format."""
