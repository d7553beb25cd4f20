"""``python -m analyzer`` and the ``kforensic`` console script: the CLI, started with the cyclic
garbage collector off while it imports."""

import gc


def main() -> None:
    # Start-up imports kforensic's ~170 modules and its libraries' (typer, cryptography, protobuf,
    # PyYAML): some 40,000 objects that live as long as the process. The collector's young
    # generations fill with them and scan them again and again, 88 collections and 17-20 ms of a
    # 0.4 s scan of the demo, for almost nothing to free (bench/README.md "The collector at
    # start-up"). It stays off until the command has imported what it needs;
    # analyzer.cli.shared.setup then freezes what exists (never scanned again) and turns it back on.
    gc.disable()
    from analyzer.cli import main as run

    run()


if __name__ == "__main__":
    main()
