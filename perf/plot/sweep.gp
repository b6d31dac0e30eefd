# SPDX-License-Identifier: MIT
# Throughput against latency from a quorate-bench sweep CSV
# (offered_ops,achieved_ops,p50_us,p90_us,p99_us,p99_9_us,max_us,errors).
#   gnuplot -c perf/plot/sweep.gp OUT.png SWEEP.csv [TITLE]
# x: achieved ops/s; y: p50, p99, p99.9 latency in microseconds (log); each
# point is labelled with the offered rate it was measured at.
if (ARGC < 2) {
	print "usage: gnuplot -c sweep.gp OUT.png SWEEP.csv [TITLE]"
	exit status 1
}
set terminal pngcairo size 1000,600 enhanced font "DejaVu Sans,11"
set output ARG1
set title (ARGC >= 3 ? ARG3 : "quorate-bench: throughput vs latency (open loop sweep)")
set datafile separator ","
set logscale y 10
set format y "%.0f"
set xlabel "achieved throughput (ops/s)"
set ylabel "latency (us)"
set xrange [0:*]
set grid xtics ytics mytics lc rgb "gray85"
set key bottom right
plot ARG2 skip 1 using 2:3 with linespoints lw 2 pt 7 title "p50", \
	'' skip 1 using 2:5 with linespoints lw 2 pt 5 title "p99", \
	'' skip 1 using 2:6 with linespoints lw 2 pt 9 title "p99.9", \
	'' skip 1 using 2:6:(sprintf("%.0f", $1)) with labels offset 0,1 \
	font ",9" textcolor rgb "gray40" notitle
