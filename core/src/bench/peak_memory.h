#pragma once
// The process's resident-set high-water mark (Linux /proc), so each benchmark reports its own peak.
namespace ips::bench {

void reset_peak_rss();
double peak_rss_mb();

}  // namespace ips::bench
