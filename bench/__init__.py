"""uploadwriter's benchmark, side by side with its peers: run ``python -m bench``."""
