// The bench's machine probes read what they say they read; page-cache dropping works on a file.
#include <gtest/gtest.h>

#include "common/error.h"
#include "storage/bandwidth_probe.h"
#include "store_test_util.h"

namespace strata {
namespace {

TEST(BandwidthProbe, MemoryProbeReadsTheWholeBuffer) {
  const BandwidthReport r = measure_memory_bandwidth(8 << 20, 2, 2);
  EXPECT_EQ(r.bytes, 8u << 20);
  EXPECT_GT(r.seconds, 0.0);
  EXPECT_GT(r.gib_per_s(), 0.0);
}

TEST(BandwidthProbe, DiskProbeReadsWholeChunksOfTheFile) {
  test::TempModelFile f((9 << 20) + 123, 5);
  const DiskReport r = measure_disk_bandwidth(f.path(), 256 << 20, 4);
  // Whole 4 MiB chunks only (the tail is left out), the two positions re-read up to 256 MiB.
  EXPECT_EQ(r.bytes, 256u << 20);
  EXPECT_GT(r.seconds, 0.0);
  EXPECT_FALSE(r.backend.empty());
  const DiskReport capped = measure_disk_bandwidth(f.path(), 4 << 20, 4);
  EXPECT_EQ(capped.bytes, 4u << 20);
  const DiskReport odd = measure_disk_bandwidth(f.path(), 6 << 20, 4);
  EXPECT_EQ(odd.bytes, 4u << 20);  // whole chunks only
  const DiskReport tiny = measure_disk_bandwidth(f.path(), 1, 4);
  EXPECT_EQ(tiny.bytes, 4u << 20);  // at least one
  EXPECT_THROW(measure_disk_bandwidth("/nonexistent/strata/model.gguf", 1 << 20), Error);
}

TEST(BandwidthProbe, DropPageCache) {
  test::TempModelFile f(1 << 20, 6);
  std::string why;
  EXPECT_TRUE(drop_page_cache(f.path(), &why)) << why;
  EXPECT_FALSE(drop_page_cache("/nonexistent/strata/model.gguf", &why));
  EXPECT_NE(why.find("cannot open"), std::string::npos) << why;
}

}  // namespace
}  // namespace strata
