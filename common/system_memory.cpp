#include "common/system_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace strata {
namespace {

// Limits this large mean "no limit": cgroup v1 reports PAGE_COUNTER_MAX (about 2^63) rounded to
// the page size instead of a sentinel string.
constexpr uint64_t kUnlimitedThreshold = uint64_t{1} << 60;

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::vector<std::string_view> lines(std::string_view s) {
  std::vector<std::string_view> out;
  for (auto l : split(s, '\n')) {
    if (!trim(l).empty()) out.push_back(l);
  }
  return out;
}

// Calls fn(key, bytes) for each "Key:   123 kB" line (/proc/meminfo, /proc/self/status); lines
// whose value is not a number (a unit other than kB counts as bytes) are skipped.
template <typename Fn>
void for_each_size_field(std::string_view text, Fn fn) {
  for (auto line : lines(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto rest = trim(line.substr(colon + 1));
    uint64_t mult = 1;
    if (rest.size() > 2 && rest.substr(rest.size() - 2) == "kB") {
      mult = 1024;
      rest = trim(rest.substr(0, rest.size() - 2));
    }
    auto v = parse_u64(rest);
    if (!v || *v > UINT64_MAX / mult) continue;
    fn(line.substr(0, colon), *v * mult);
  }
}

std::string join_path(const std::string& root, std::string_view path) {
  std::string r = root;
  while (!r.empty() && r.back() == '/') r.pop_back();
  if (path.empty() || path.front() != '/') r += '/';
  r += path;
  return r;
}

// A value of a limit file: "max" and v1's huge sentinel mean no limit.
std::optional<uint64_t> read_limit(const std::string& path, bool* present) {
  auto text = read_text(path);
  *present = text.has_value();
  if (!text) return std::nullopt;
  auto t = trim(*text);
  if (t == "max") return std::nullopt;
  auto v = parse_u64(t);
  if (!v || *v >= kUnlimitedThreshold) return std::nullopt;
  return v;
}

struct Mount {
  std::string root;        // the part of the hierarchy mounted there
  std::string mountpoint;
  std::string fstype;
  std::string super_options;
};

std::vector<Mount> parse_mountinfo(std::string_view text) {
  std::vector<Mount> out;
  for (auto line : lines(text)) {
    // "id parent maj:min root mountpoint opts [optional...] - fstype source superopts"
    auto dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::istringstream left{std::string(line.substr(0, dash))};
    std::istringstream right{std::string(line.substr(dash + 3))};
    std::string id, parent, dev;
    Mount m;
    if (!(left >> id >> parent >> dev >> m.root >> m.mountpoint)) continue;
    std::string source;
    if (!(right >> m.fstype >> source)) continue;
    right >> m.super_options;
    out.push_back(std::move(m));
  }
  return out;
}

bool has_option(std::string_view options, std::string_view name) {
  for (auto o : split(options, ',')) {
    if (o == name) return true;
  }
  return false;
}

// Directory of the cgroup `cg_path` inside `mount`, under `root`. When the process's cgroup is
// outside the mounted subtree (a namespaced container), the mount point is the cgroup itself.
std::string cgroup_dir(const std::string& root, const Mount& mount, const std::string& cg_path) {
  std::string rel = cg_path;
  if (mount.root != "/") {
    if (rel.rfind(mount.root, 0) == 0) {
      rel = rel.substr(mount.root.size());
    } else {
      rel.clear();
    }
  }
  return join_path(join_path(root, mount.mountpoint), rel);
}

// Reads limit/usage walking from `dir` up to `top`; the effective limit is the smallest one.
CgroupMemory read_hierarchy(int version, std::string dir, const std::string& top,
                            const char* limit_file, const char* usage_file) {
  CgroupMemory cg;
  cg.version = version;
  bool found_any = false;
  while (true) {
    bool present = false;
    auto limit = read_limit(join_path(dir, limit_file), &present);
    if (present) {
      if (!found_any) {
        cg.dir = dir;
        auto usage_text = read_text(join_path(dir, usage_file));
        if (usage_text) cg.usage = parse_u64(*usage_text);
      }
      found_any = true;
      if (limit && (!cg.limit || *limit < *cg.limit)) cg.limit = limit;
    }
    if (dir.size() <= top.size()) break;
    auto slash = dir.find_last_of('/');
    if (slash == std::string::npos || slash < top.size()) break;
    dir.resize(slash);
  }
  if (!found_any) return CgroupMemory{};
  return cg;
}

}  // namespace

std::optional<MemInfo> parse_meminfo(std::string_view text) {
  std::optional<uint64_t> total, available, free;
  for_each_size_field(text, [&](std::string_view key, uint64_t bytes) {
    if (key == "MemTotal") total = bytes;
    if (key == "MemAvailable") available = bytes;
    if (key == "MemFree") free = bytes;
  });
  if (!total) return std::nullopt;
  MemInfo info;
  info.total = *total;
  info.available = available ? *available : free.value_or(0);
  return info;
}

ProcessMemory parse_process_status(std::string_view text) {
  ProcessMemory m;
  for_each_size_field(text, [&](std::string_view key, uint64_t bytes) {
    if (key == "VmRSS") m.rss = bytes;
    if (key == "VmHWM") m.peak_rss = bytes;
    if (key == "RssAnon") m.anon = bytes;
    if (key == "RssFile") m.file = bytes;
  });
  return m;
}

ProcessMemory read_process_memory(const std::string& root) {
  const auto text = read_text(join_path(root, "/proc/self/status"));
  return text ? parse_process_status(*text) : ProcessMemory{};
}

bool reset_peak_rss(const std::string& root) {
  // "5" resets VmHWM to the current RSS (Linux 4.0+); the write fails where it is not supported.
  std::ofstream out(join_path(root, "/proc/self/clear_refs"));
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

CgroupMemory read_cgroup_memory(const std::string& root) {
  auto cgroup_text = read_text(join_path(root, "/proc/self/cgroup"));
  auto mount_text = read_text(join_path(root, "/proc/self/mountinfo"));
  if (!cgroup_text || !mount_text) return {};
  auto mounts = parse_mountinfo(*mount_text);

  std::optional<std::string> v2_path, v1_path;
  for (auto line : lines(*cgroup_text)) {
    // "hierarchy-id:controller-list:path"
    auto first = line.find(':');
    if (first == std::string_view::npos) continue;
    auto second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    auto controllers = line.substr(first + 1, second - first - 1);
    std::string path{trim(line.substr(second + 1))};
    if (line.substr(0, first) == "0" && controllers.empty()) {
      v2_path = path;
    } else if (has_option(controllers, "memory")) {
      v1_path = path;
    }
  }

  if (v2_path) {
    for (const auto& m : mounts) {
      if (m.fstype != "cgroup2") continue;
      auto cg = read_hierarchy(2, cgroup_dir(root, m, *v2_path), join_path(root, m.mountpoint),
                               "memory.max", "memory.current");
      if (cg.version != 0) return cg;
    }
  }
  if (v1_path) {
    for (const auto& m : mounts) {
      if (m.fstype != "cgroup" || !has_option(m.super_options, "memory")) continue;
      auto cg = read_hierarchy(1, cgroup_dir(root, m, *v1_path), join_path(root, m.mountpoint),
                               "memory.limit_in_bytes", "memory.usage_in_bytes");
      if (cg.version != 0) return cg;
    }
  }
  return {};
}

uint64_t SystemMemory::limit() const {
  uint64_t l = meminfo.total;
  if (cgroup.limit && (l == 0 || *cgroup.limit < l)) l = *cgroup.limit;
  return l;
}

uint64_t SystemMemory::available() const {
  uint64_t a = meminfo.available;
  if (cgroup.limit) {
    uint64_t used = cgroup.usage.value_or(0);
    uint64_t room = used >= *cgroup.limit ? 0 : *cgroup.limit - used;
    if (a == 0 || room < a) a = room;
  }
  return a;
}

SystemMemory read_system_memory(const std::string& root) {
  SystemMemory s;
  if (auto text = read_text(join_path(root, "/proc/meminfo"))) {
    if (auto info = parse_meminfo(*text)) s.meminfo = *info;
  }
  s.cgroup = read_cgroup_memory(root);
  return s;
}

uint64_t parse_size(std::string_view text) {
  auto t = trim(text);
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  auto number = t.substr(0, i);
  auto suffix = trim(t.substr(i));
  double value = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || p != number.data() + number.size()) {
    fail("invalid size '{}' (expected e.g. 8G, 512M, 1.5GiB or a byte count)", text);
  }
  std::string s;
  for (char c : suffix) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.size() >= 2 && s.substr(s.size() - 2) == "IB") s.resize(s.size() - 2);
  else if (s.size() >= 2 && s.back() == 'B') s.pop_back();
  double mult = 1;
  if (s.empty() || s == "B") mult = 1;
  else if (s == "K") mult = 1024.0;
  else if (s == "M") mult = 1024.0 * 1024;
  else if (s == "G") mult = 1024.0 * 1024 * 1024;
  else if (s == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else fail("invalid size '{}': unknown unit '{}' (use K, M, G or T)", text, suffix);
  double bytes = value * mult;
  if (!std::isfinite(bytes) || bytes >= 1.8e19) fail("invalid size '{}': too large", text);
  return static_cast<uint64_t>(bytes);
}

std::string format_size(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

}  // namespace strata
