"""Polku entry point: ``python run.py`` serves; ``python run.py --help`` lists the commands."""
from orchestrator.cli import main

if __name__ == "__main__":
    main()
