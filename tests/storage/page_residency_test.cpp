// Tier-1 page helpers: the residency check that decides whether an acquired expert's pages need
// faulting in, and populate_read making a range resident.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "storage/page_residency.h"

namespace strata {
namespace {

TEST(PageResidency, UntouchedPagesAreNotResidentUntilPopulated) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t len = 64 * page;
  void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  auto* p = static_cast<uint8_t*>(m);
  EXPECT_FALSE(is_resident(p, len));
  std::memset(p, 1, 8 * page);  // the first 8 pages only
  EXPECT_TRUE(is_resident(p, 8 * page));
  EXPECT_TRUE(is_resident(p + 100, 10));  // an unaligned range inside a resident page
  EXPECT_FALSE(is_resident(p, 9 * page));
  EXPECT_FALSE(is_resident(p + 8 * page - 1, 2));  // straddles into an untouched page
  std::memset(p, 1, len);
  EXPECT_TRUE(is_resident(p, len));
  EXPECT_TRUE(is_resident(p, 0));
  EXPECT_TRUE(is_resident(nullptr, 0));
  ::munmap(m, len);
}

TEST(PageResidency, PopulateReadMakesAFileRangeResident) {
  char path[] = "/tmp/strata_residency_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t len = 32 * page;
  std::vector<uint8_t> bytes(len, 7);
  ASSERT_EQ(::write(fd, bytes.data(), len), static_cast<ssize_t>(len));
  void* m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  const auto* p = static_cast<const uint8_t*>(m);
  populate_read(p + page, 4 * page);
  EXPECT_TRUE(is_resident(p + page, 4 * page));
  EXPECT_EQ(p[2 * page], 7);
  ::munmap(m, len);
  ::close(fd);
  ::unlink(path);
}

}  // namespace
}  // namespace strata
