"""Command-line interface (typer). Thin: parse, call the API, save the result."""
