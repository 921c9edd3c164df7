"""`make chaos`: the platform as real processes on a real broker, under crashes, broker cuts,
poison records, duplicates and reordering; every figure is checked against what the run published.

    uv run python -m tests.chaos                       # every scenario at the issue's scale
    uv run python -m tests.chaos --scale 0.1 --only crashes,poison --seed 7
"""
