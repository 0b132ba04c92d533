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


def loop(fn, n, series, gtm, collect, marks, mark, done):
    for i in range(n):
        try:
            fn()
        except BaseException as e:
            return e
        collect()
        series[i] = gtm()[0]
        done[0] = i + 1
        if i in marks:
            mark(i)
