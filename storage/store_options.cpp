#include "storage/store_options.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

#include "common/error.h"

namespace strata {
namespace {

template <typename E, size_t N>
E parse_choice(std::string_view what, std::string_view text,
               const std::array<std::pair<const char*, E>, N>& choices) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string names;
  for (const auto& [name, value] : choices) {
    if (lower == name) return value;
    names += names.empty() ? "" : "|";
    names += name;
  }
  fail("invalid {} '{}' (expected {})", what, text, names);
}

constexpr std::array<std::pair<const char*, StoreMode>, 5> kModes{{{"auto", StoreMode::Auto},
                                                                    {"mmap", StoreMode::Mmap},
                                                                    {"slots", StoreMode::Slots},
                                                                    {"direct", StoreMode::Direct},
                                                                    {"mmap-plain", StoreMode::MmapPlain}}};
constexpr std::array<std::pair<const char*, PrefaultMode>, 3> kPrefault{
    {{"auto", PrefaultMode::Auto}, {"on", PrefaultMode::On}, {"off", PrefaultMode::Off}}};
constexpr std::array<std::pair<const char*, EvictionKind>, 3> kEviction{
    {{"lru", EvictionKind::Lru}, {"lfu", EvictionKind::Lfu}, {"sieve", EvictionKind::Sieve}}};
constexpr std::array<std::pair<const char*, IoKind>, 3> kIo{
    {{"auto", IoKind::Auto}, {"uring", IoKind::Uring}, {"pread", IoKind::Pread}}};

template <typename E, size_t N>
const char* name_of(E value, const std::array<std::pair<const char*, E>, N>& choices) {
  for (const auto& [name, v] : choices) {
    if (v == value) return name;
  }
  return "?";
}

}  // namespace

StoreMode parse_store_mode(std::string_view text) { return parse_choice("expert mode", text, kModes); }
PrefaultMode parse_prefault_mode(std::string_view text) {
  return parse_choice("prefault mode", text, kPrefault);
}
EvictionKind parse_eviction_kind(std::string_view text) {
  return parse_choice("eviction policy", text, kEviction);
}
IoKind parse_io_kind(std::string_view text) { return parse_choice("I/O backend", text, kIo); }
const char* store_mode_name(StoreMode mode) { return name_of(mode, kModes); }
const char* prefault_mode_name(PrefaultMode mode) { return name_of(mode, kPrefault); }
const char* eviction_kind_name(EvictionKind kind) { return name_of(kind, kEviction); }

}  // namespace strata
