#pragma once
// How much memory this process may use: the machine's RAM (/proc/meminfo) and the memory limit of
// the cgroup it runs in (cgroup v2 memory.max / memory.current, or v1 memory.limit_in_bytes /
// memory.usage_in_bytes), found through /proc/self/cgroup and /proc/self/mountinfo; and how much
// it has resident (/proc/self/status).
//
// Every reader takes a `root` directory that prefixes all paths ("/" for the real system), so
// tests can point it at a temporary tree of fake files. Missing or unreadable files are not
// errors: the corresponding value is simply unknown. All functions are thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata {

struct MemInfo {
  uint64_t total = 0;      // MemTotal, bytes
  uint64_t available = 0;  // MemAvailable, bytes (MemFree when the kernel does not report it)
};

// Parses the text of /proc/meminfo; nullopt if MemTotal is missing or malformed.
std::optional<MemInfo> parse_meminfo(std::string_view text);

struct CgroupMemory {
  int version = 0;                 // 1 or 2; 0 = no memory cgroup found
  std::optional<uint64_t> limit;   // nullopt = unlimited ("max", or v1's huge sentinel) or unknown
  std::optional<uint64_t> usage;   // current charge of the cgroup, if readable
  std::string dir;                 // directory the values came from (with `root` prefix)
};

// Finds this process's memory cgroup under `root` and reads its limit and usage. The limit is
// the smallest limit on the path from the process's cgroup up to the mount point, since any
// ancestor's limit applies too. Prefers cgroup v2 when both hierarchies are present and v2 has
// the memory controller files.
CgroupMemory read_cgroup_memory(const std::string& root = "/");

struct SystemMemory {
  MemInfo meminfo;          // zeros if /proc/meminfo is unreadable
  CgroupMemory cgroup;

  // min(MemTotal, cgroup limit): the most this process can ever have resident.
  uint64_t limit() const;
  // min(MemAvailable, cgroup limit - cgroup usage): what can be used right now.
  uint64_t available() const;
};

SystemMemory read_system_memory(const std::string& root = "/");

// This process's resident memory, from /proc/self/status; zeros where unknown.
struct ProcessMemory {
  uint64_t rss = 0;       // VmRSS
  uint64_t peak_rss = 0;  // VmHWM: the most resident at once since start or reset_peak_rss()
  uint64_t anon = 0;      // RssAnon: heap, expert slots, KV cache, scratch
  uint64_t file = 0;      // RssFile: mapped file pages resident (model weights in the page cache, code)
};

ProcessMemory parse_process_status(std::string_view text);
ProcessMemory read_process_memory(const std::string& root = "/");
// Starts a new peak: VmHWM drops to the current RSS. False where the kernel does not allow it.
bool reset_peak_rss(const std::string& root = "/");

// Parses a size such as "8G", "512M", "1.5GiB", "4096" (bytes) with binary (1024-based)
// multipliers K/M/G/T. Throws strata::Error naming the text if it is not a valid size.
uint64_t parse_size(std::string_view text);
// Human-readable binary size: "18.4 GiB", "512.0 MiB", "100 B".
std::string format_size(uint64_t bytes);

}  // namespace strata
