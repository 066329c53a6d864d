# Long runs that CI does not do (see README). The two everyday commands are ./run serve and
# ./run test.
.PHONY: soak bench

soak:  ## security and reliability tests at soak sizes (~30-40 min); record results in docs/soak.md
	bash tools/soak.sh

bench:  ## the benchmark suite; regenerates BENCHMARKS.md (~10-20 min)
	.venv/bin/python -m bench
