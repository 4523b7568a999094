#pragma once
// The memory behind tier-0 slots: one anonymous mapping, placed on the NUMA node of the CPU that
// creates it (hwloc finds the node, mbind places the pages), committed up front so slot reads
// never fault, and optionally mlock'ed. On a one-node machine the same calls run and change
// nothing; the placement line says so.
#include <cstdint>
#include <string>

namespace strata {

class SlotMemory {
 public:
  SlotMemory() = default;
  // Maps and commits `bytes` (a multiple of the page size). Throws strata::Error if the memory
  // cannot be mapped. NUMA placement and mlock are best effort: failures are reported in
  // placement(), not thrown.
  SlotMemory(uint64_t bytes, bool lock);
  ~SlotMemory();
  SlotMemory(SlotMemory&& other) noexcept;
  SlotMemory& operator=(SlotMemory&& other) noexcept;
  SlotMemory(const SlotMemory&) = delete;
  SlotMemory& operator=(const SlotMemory&) = delete;

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // One line: size, NUMA node chosen out of how many, whether placement/mlock took effect.
  const std::string& placement() const { return placement_; }
  int numa_node() const { return node_; }
  int numa_nodes() const { return nodes_; }
  bool locked() const { return locked_; }

 private:
  void release() noexcept;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  int node_ = -1;
  int nodes_ = 0;
  bool locked_ = false;
  std::string placement_;
};

}  // namespace strata
