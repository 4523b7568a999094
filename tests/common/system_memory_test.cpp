#include "common/system_memory.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <sys/mman.h>

#include <cstring>

#include "common/error.h"

namespace fs = std::filesystem;
using namespace strata;

namespace {

class FakeRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("strata_sysmem_" + std::to_string(rd()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::string root() const { return root_.string(); }
  fs::path root_;
};

const char* kMeminfo =
    "MemTotal:       16384000 kB\n"
    "MemFree:         1000000 kB\n"
    "MemAvailable:    8192000 kB\n";

}  // namespace

TEST(Meminfo, ParsesTotalAndAvailable) {
  auto info = parse_meminfo(kMeminfo);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->total, 16384000ull * 1024);
  EXPECT_EQ(info->available, 8192000ull * 1024);
}

TEST(Meminfo, FallsBackToMemFreeAndRejectsMissingTotal) {
  auto info = parse_meminfo("MemTotal: 100 kB\nMemFree: 40 kB\n");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->available, 40u * 1024);
  EXPECT_FALSE(parse_meminfo("MemFree: 40 kB\n"));
  EXPECT_FALSE(parse_meminfo("MemTotal: lots kB\n"));
  EXPECT_FALSE(parse_meminfo(""));
}

TEST_F(FakeRoot, CgroupV2LimitAndUsage) {
  write("proc/meminfo", kMeminfo);
  write("proc/self/cgroup", "0::/user.slice/job\n");
  write("proc/self/mountinfo",
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
  write("sys/fs/cgroup/user.slice/job/memory.max", "4294967296\n");
  write("sys/fs/cgroup/user.slice/job/memory.current", "1073741824\n");
  auto s = read_system_memory(root());
  EXPECT_EQ(s.cgroup.version, 2);
  ASSERT_TRUE(s.cgroup.limit);
  EXPECT_EQ(*s.cgroup.limit, 4294967296ull);
  EXPECT_EQ(s.cgroup.usage.value_or(0), 1073741824ull);
  EXPECT_EQ(s.limit(), 4294967296ull);
  EXPECT_EQ(s.available(), 3221225472ull);  // limit - usage < MemAvailable
}

TEST_F(FakeRoot, CgroupV2MaxMeansUnlimitedButParentLimitApplies) {
  write("proc/self/cgroup", "0::/a/b\n");
  write("proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  write("sys/fs/cgroup/a/b/memory.max", "max\n");
  write("sys/fs/cgroup/a/b/memory.current", "100\n");
  auto only_max = read_cgroup_memory(root());
  EXPECT_EQ(only_max.version, 2);
  EXPECT_FALSE(only_max.limit);
  write("sys/fs/cgroup/a/memory.max", "2000\n");
  auto with_parent = read_cgroup_memory(root());
  ASSERT_TRUE(with_parent.limit);
  EXPECT_EQ(*with_parent.limit, 2000u);
  EXPECT_EQ(with_parent.usage.value_or(0), 100u);
}

TEST_F(FakeRoot, CgroupV1HugeValueIsUnlimited) {
  write("proc/meminfo", kMeminfo);
  write("proc/self/cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n");
  write("proc/self/mountinfo",
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n");
  write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
  write("sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "939958272\n");
  auto s = read_system_memory(root());
  EXPECT_EQ(s.cgroup.version, 1);
  EXPECT_FALSE(s.cgroup.limit);
  EXPECT_EQ(s.limit(), 16384000ull * 1024);
  EXPECT_EQ(s.available(), 8192000ull * 1024);
}

TEST_F(FakeRoot, CgroupV1NamespacedMountUsesMountPoint) {
  // Inside a container the mount root is the container's cgroup, not "/".
  write("proc/self/cgroup", "4:memory:/docker/abc\n");
  write("proc/self/mountinfo",
        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n");
  write("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
  auto cg = read_cgroup_memory(root());
  EXPECT_EQ(cg.version, 1);
  ASSERT_TRUE(cg.limit);
  EXPECT_EQ(*cg.limit, 536870912u);
  EXPECT_FALSE(cg.usage);  // usage file missing: unknown, not an error
}

TEST_F(FakeRoot, MissingFilesMeanUnknown) {
  auto s = read_system_memory(root());
  EXPECT_EQ(s.meminfo.total, 0u);
  EXPECT_EQ(s.cgroup.version, 0);
  EXPECT_EQ(s.limit(), 0u);
  write("proc/self/cgroup", "0::/x\n");
  write("proc/self/mountinfo", "garbage line\n30 23 0:26 / /sys/fs/cgroup rw - cgroup2 c rw\n");
  EXPECT_EQ(read_cgroup_memory(root()).version, 0);  // no memory.max anywhere
}

TEST(SystemMemory, RealSystemHasRam) {
  auto s = read_system_memory();
  EXPECT_GT(s.meminfo.total, 0u);
  EXPECT_LE(s.available(), s.limit());
}

TEST(Sizes, ParseAndFormat) {
  EXPECT_EQ(parse_size("8G"), 8ull << 30);
  EXPECT_EQ(parse_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_size("1.5GiB"), 3ull << 29);
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("2kb"), 2048u);
  EXPECT_THROW(parse_size(""), Error);
  EXPECT_THROW(parse_size("8X"), Error);
  EXPECT_THROW(parse_size("G"), Error);
  EXPECT_THROW(parse_size("99999999999T"), Error);
  EXPECT_EQ(format_size(100), "100 B");
  EXPECT_EQ(format_size(512ull << 20), "512.0 MiB");
  EXPECT_EQ(format_size(static_cast<uint64_t>(18.4 * (1ull << 30))), "18.4 GiB");
}

TEST(ProcessMemory, ParsesStatusFields) {
  const auto m = parse_process_status(
      "Name:\tstrata\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   81920 kB\n"
      "RssFile:\t   20480 kB\nRssShmem:\t       0 kB\nThreads:\t4\n");
  EXPECT_EQ(m.peak_rss, 204800ull * 1024);
  EXPECT_EQ(m.rss, 102400ull * 1024);
  EXPECT_EQ(m.anon, 81920ull * 1024);
  EXPECT_EQ(m.file, 20480ull * 1024);
  // Missing or malformed fields stay unknown (zero).
  const auto partial = parse_process_status("VmRSS: lots kB\nRssAnon: 4 kB\n");
  EXPECT_EQ(partial.rss, 0u);
  EXPECT_EQ(partial.anon, 4096u);
}

TEST_F(FakeRoot, ProcessMemoryFromStatusFile) {
  write("proc/self/status", "VmHWM: 8 kB\nVmRSS: 4 kB\n");
  const auto m = read_process_memory(root());
  EXPECT_EQ(m.peak_rss, 8192u);
  EXPECT_EQ(m.rss, 4096u);
  fs::remove(root_ / "proc/self/status");
  EXPECT_EQ(read_process_memory(root()).rss, 0u);  // unreadable: unknown, not an error
}

// The real /proc: touching memory shows in RSS, and a reset peak forgets memory given back.
TEST(ProcessMemory, PeakResetForgetsReleasedMemory) {
  constexpr size_t kBytes = 128u << 20;
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 1, kBytes);
  const auto touched = read_process_memory();
  EXPECT_GE(touched.anon, kBytes);
  EXPECT_GE(touched.peak_rss, touched.rss);
  ::munmap(p, kBytes);
  if (!reset_peak_rss()) GTEST_SKIP() << "this kernel does not reset peak RSS (/proc/self/clear_refs)";
  const auto after = read_process_memory();
  EXPECT_LT(after.peak_rss + kBytes / 2, touched.peak_rss);
}
