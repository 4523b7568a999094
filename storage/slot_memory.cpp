#include "storage/slot_memory.h"

#include <hwloc.h>
#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"

namespace strata {
namespace {

struct LocalNode {
  int node = -1;   // OS index of the NUMA node of the CPU we run on; -1 if unknown
  int count = 0;   // NUMA nodes in the machine
};

LocalNode find_local_node() {
  LocalNode out;
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return out;
  if (hwloc_topology_load(topo) == 0) {
    out.count = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    hwloc_bitmap_t cpu = hwloc_bitmap_alloc();
    if (cpu != nullptr && hwloc_get_last_cpu_location(topo, cpu, HWLOC_CPUBIND_THREAD) == 0) {
      for (int i = 0; i < out.count; ++i) {
        hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
        if (n != nullptr && n->cpuset != nullptr && hwloc_bitmap_intersects(n->cpuset, cpu)) {
          out.node = static_cast<int>(n->os_index);
          break;
        }
      }
    }
    if (cpu != nullptr) hwloc_bitmap_free(cpu);
  }
  hwloc_topology_destroy(topo);
  return out;
}

// Binds [p, p+bytes) to prefer `node`; returns an empty string or why it did not happen.
std::string place_on_node(void* p, uint64_t bytes, int node) {
  if (numa_available() < 0) return "libnuma reports no NUMA support";
  if (node < 0) return "local node unknown";
  const unsigned long bits = 8 * sizeof(unsigned long);
  std::vector<unsigned long> mask(static_cast<size_t>(node) / bits + 1, 0);
  mask[static_cast<size_t>(node) / bits] |= 1ul << (static_cast<unsigned>(node) % bits);
  // MPOL_PREFERRED rather than BIND: if the local node runs out, spill instead of failing.
  if (mbind(p, bytes, MPOL_PREFERRED, mask.data(), mask.size() * bits + 1, 0) != 0) {
    return fmt::format("mbind: {}", std::strerror(errno));
  }
  return {};
}

}  // namespace

SlotMemory::SlotMemory(uint64_t bytes, bool lock) : size_(bytes) {
  if (bytes == 0) return;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    fail("cannot allocate {:.1f} MiB for the expert cache: {}", static_cast<double>(bytes) / (1 << 20),
         std::strerror(errno));
  }
  data_ = static_cast<uint8_t*>(p);
  // Large slot areas are walked linearly by the kernels; huge pages save TLB misses.
  ::madvise(p, bytes, MADV_HUGEPAGE);

  const LocalNode local = find_local_node();
  node_ = local.node;
  nodes_ = local.count;
  const std::string placed = place_on_node(p, bytes, local.node);

  // Pages are committed by the first read into each slot (the kernel pins them for O_DIRECT), on
  // the node mbind chose, so compute never faults on a slot. Committing all of them here instead
  // cost 1.5 s per GiB at start-up on our VMs; --mlock (below) still commits everything at once.
  std::string lock_note = "mlock off";
  if (lock) {
    if (::mlock(p, bytes) == 0) {
      locked_ = true;
      lock_note = "mlock'ed";
    } else {
      lock_note = fmt::format("mlock failed ({}; raise RLIMIT_MEMLOCK)", std::strerror(errno));
    }
  }
  std::string numa;
  if (!placed.empty()) {
    numa = fmt::format("NUMA placement skipped ({})", placed);
  } else if (nodes_ <= 1) {
    numa = fmt::format("on NUMA node {} of {} (single node: placement is a no-op)", node_, nodes_);
  } else {
    numa = fmt::format("on NUMA node {} of {} (local to the creating thread)", node_, nodes_);
  }
  placement_ = fmt::format("slot memory {:.1f} MiB {}, {}", static_cast<double>(bytes) / (1 << 20),
                           numa, lock_note);
}

SlotMemory::~SlotMemory() { release(); }

SlotMemory::SlotMemory(SlotMemory&& other) noexcept { *this = std::move(other); }

SlotMemory& SlotMemory::operator=(SlotMemory&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    node_ = other.node_;
    nodes_ = other.nodes_;
    locked_ = other.locked_;
    placement_ = std::move(other.placement_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void SlotMemory::release() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
}

}  // namespace strata
