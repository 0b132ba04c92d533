"""Tiny frames that sit under the target's code; tracemalloc's line lookup cost grows with function size."""


def run_code(code, g):
    try:
        exec(code, g)
    except BaseException as e:  # the probe reports every exit, SystemExit included
        return e


def call(fn):
    try:
        fn()
    except BaseException as e:
        return e


def calls(fn, n, series, gtm, collect, marks, mark, done):
    """n calls; after each but the last, a full collection and the retained total (the probe collects after the
    last call itself)."""
    for i in range(n - 1):
        try:
            fn()
        except BaseException as e:
            return e
        collect()
        series[i] = gtm()[0]
        done[0] = i + 1
        if i in marks:
            mark(i)
    try:
        fn()
    except BaseException as e:
        return e
    done[0] = n
