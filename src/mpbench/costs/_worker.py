"""`python -m mpbench.costs._worker --worker --probe JSON --round N [pyperf options]`: the
pyperf program that times one cost probe (see `timing`).

Spawned and forkserver children import this module as `__mp_main__`, so it imports nothing:
start-up under those methods then costs what it costs a program whose main module is light,
not mpbench's own imports.
"""


def main() -> None:
    from mpbench.costs.timing import main as time_probe

    time_probe()


if __name__ == "__main__":
    main()
