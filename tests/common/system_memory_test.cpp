#include "common/system_memory.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

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
