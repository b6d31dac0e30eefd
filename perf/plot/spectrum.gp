# SPDX-License-Identifier: MIT
# Latency percentile spectrum from HdrHistogram percentile-distribution
# files (quorate-bench --hdr; values in microseconds).
#   gnuplot -c perf/plot/spectrum.gp OUT.png RUN1.hdr [RUN2.hdr ...]
# x: percentile on the 1/(1-p) scale (log), labelled 50%, 90%, 99%, ...;
# y: latency in microseconds (log). Each file is one line, titled with its
# name without directory and .hdr.
if (ARGC < 2) {
	print "usage: gnuplot -c spectrum.gp OUT.png RUN.hdr [RUN.hdr ...]"
	exit status 1
}
set terminal pngcairo size 1000,600 enhanced font "DejaVu Sans,11"
set output ARG1
set title "quorate-bench: latency by percentile"
set logscale x 10
set logscale y 10
set xrange [1:1e6]
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, \
	"99.99%%" 1e4, "99.999%%" 1e5, "99.9999%%" 1e6)
set xlabel "percentile"
set ylabel "latency (us)"
set format y "%.0f"
set grid xtics ytics mytics lc rgb "gray85"
set key top left
name(f) = system("basename '" . f . "' .hdr")
# HDR files: 2 header lines, then Value Percentile TotalCount 1/(1-p);
# the 100% line has no 4th column and is left out (it is the max).
plot for [i=2:ARGC] ARGV[i] skip 2 using 4:1 with lines lw 2 \
	title name(ARGV[i])
