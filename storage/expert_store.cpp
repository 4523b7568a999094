#include "storage/expert_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "storage/page_residency.h"

namespace strata {
namespace {

constexpr uint64_t kA = ExpertStore::kAlignment;
uint64_t align_down(uint64_t v) { return v / kA * kA; }
uint64_t align_up(uint64_t v) { return (v + kA - 1) / kA * kA; }

// Tier-2 reads are split into requests of at most this many bytes (a multiple of kA): O_DIRECT
// throughput of one 2 MiB read is about half of what several reads in flight reach.
constexpr uint64_t kReadChunk = 512 * 1024;

// A read's tag names the slot it fills and the expert part (gate, up, down) it belongs to; every
// chunk of a part shares the tag.
uint64_t read_tag(int slot, size_t part) { return static_cast<uint64_t>(slot) * 4 + part; }
int slot_of_tag(uint64_t tag) { return static_cast<int>(tag / 4); }
size_t part_of_tag(uint64_t tag) { return static_cast<size_t>(tag % 4); }
std::array<uint64_t, 3> read_tags(int slot) { return {read_tag(slot, 0), read_tag(slot, 1), read_tag(slot, 2)}; }

// Where one part of an expert goes inside its slot: the aligned superset of its bytes is read
// to `slot_offset`, and the part itself starts `lead` bytes into that.
struct PartPlan {
  uint64_t file_offset = 0;  // aligned
  uint64_t length = 0;       // aligned
  uint64_t required = 0;     // up to the part's last byte
  uint64_t slot_offset = 0;
  uint64_t lead = 0;
};

std::array<PartPlan, 3> plan_parts(const ExpertLocation& loc) {
  std::array<PartPlan, 3> plan{};
  uint64_t cursor = 0;
  for (size_t p = 0; p < 3; ++p) {
    const ExpertPartLocation& part = loc.parts[p];
    PartPlan& pp = plan[p];
    pp.file_offset = align_down(part.offset);
    pp.length = align_up(part.offset + part.nbytes) - pp.file_offset;
    pp.required = part.offset + part.nbytes - pp.file_offset;
    pp.lead = part.offset - pp.file_offset;
    pp.slot_offset = cursor;
    cursor += pp.length;
  }
  return plan;
}

size_t slots_for_budget(const ExpertLayout& layout, const StoreOptions& options) {
  const uint64_t slot = ExpertStore::slot_bytes_for(layout);
  const uint64_t n = options.cache_bytes / slot;
  const auto k = static_cast<uint64_t>(layout.top_k());
  if (n < k) {
    fail("expert cache of {:.2f} MiB is too small: one layer's top-{} working set needs {:.2f} MiB "
         "({} slots of {:.2f} MiB)",
         static_cast<double>(options.cache_bytes) / (1 << 20), k,
         static_cast<double>(k * slot) / (1 << 20), k, static_cast<double>(slot) / (1 << 20));
  }
  // More slots than experts would never be used.
  uint64_t experts = 0;
  for (int l = 0; l < layout.n_layer(); ++l) {
    if (layout.has_experts(l)) experts += static_cast<uint64_t>(layout.n_expert());
  }
  return static_cast<size_t>(std::min(n, experts));
}

ExpertMatrix matrix(const ExpertPartLocation& part, const uint8_t* data) {
  return {data, part.type, part.rows, part.cols};
}

}  // namespace

uint64_t ExpertStore::slot_bytes_for(const ExpertLayout& layout) {
  uint64_t most = 0;
  for (int l = 0; l < layout.n_layer(); ++l) {
    if (!layout.has_experts(l)) continue;
    for (int e = 0; e < layout.n_expert(); ++e) {
      const auto plan = plan_parts(layout.at(l, e));
      most = std::max(most, plan[2].slot_offset + plan[2].length);
    }
  }
  if (most == 0) fail("the model has no routed experts to cache");
  return most;
}

uint64_t ExpertStore::min_cache_bytes(const ExpertLayout& layout) {
  return slot_bytes_for(layout) * static_cast<uint64_t>(layout.top_k());
}

ExpertStore::ExpertStore(ExpertLayout layout, const StoreOptions& options)
    : layout_(std::move(layout)),
      options_(options),
      pool_(slots_for_budget(layout_, options_), slot_bytes_for(layout_),
            make_eviction_policy(options_.eviction, slots_for_budget(layout_, options_),
                                 options_.lfu_decay),
            options_.mlock),
      stats_(layout_.n_layer(), layout_.n_expert()),
      predicted_(static_cast<size_t>(layout_.n_layer())) {
  if (!uses_slots(options_.mode)) {
    fail("the tiered expert store runs in slots or direct mode, not '{}'",
         store_mode_name(options_.mode));
  }
  const bool direct = options_.mode == StoreMode::Direct;
  bool all_direct = direct;
  for (const ExpertFile& f : layout_.files()) {
    int fd = f.fd;
    bool own = false;
    if (direct) {
      const int dfd = ::open(f.path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
      if (dfd >= 0) {
        fd = dfd;
        own = true;
      } else {
        // Some filesystems (tmpfs, some FUSE) refuse O_DIRECT; reading through the page cache
        // still works, it just costs memory outside the budget.
        spdlog::warn("cannot open '{}' with O_DIRECT ({}); reading it through the page cache",
                     f.path, std::strerror(errno));
        all_direct = false;
      }
    }
    if (fd < 0) fail("no open descriptor for '{}'", f.path);
    read_fds_.push_back(fd);
    own_fd_.push_back(own ? 1 : 0);
  }

  IoConfig io;
  io.kind = options_.io;
  io.alignment = kAlignment;
  io.depth = options_.io_depth == 0 ? 1 : options_.io_depth;
  io.fault_injector = options_.fault_injector;
  backend_ = make_io_backend(io, [this](const ReadCompletion& c) { on_read_done(c); }, &io_line_);

  description_ = fmt::format(
      "{} mode: {} slots x {:.2f} MiB = {:.1f} MiB expert cache, {} eviction, {}{}",
      direct ? "direct" : "slots", pool_.size(), static_cast<double>(pool_.slot_bytes()) / (1 << 20),
      static_cast<double>(pool_.bytes()) / (1 << 20), pool_.policy().name(),
      direct ? (all_direct ? "O_DIRECT " : "O_DIRECT unavailable, buffered ") : "buffered ",
      backend_->name());
  if (options_.resident_end > options_.resident_begin) {
    load_resident(options_.resident_begin, options_.resident_end);
    description_ += fmt::format(", layers [{}, {}) resident", options_.resident_begin,
                                options_.resident_end);
  }
}

ExpertStore::~ExpertStore() {
  backend_.reset();  // waits for reads in flight into our slots
  for (size_t i = 0; i < read_fds_.size(); ++i) {
    if (own_fd_[i] != 0) ::close(read_fds_[i]);
  }
}

void ExpertStore::load_resident(int begin, int end) {
  if (begin < 0 || end > layout_.n_layer()) {
    fail("resident layers [{}, {}) are out of range (the model has {} layers)", begin, end,
         layout_.n_layer());
  }
  uint64_t needed = 0;
  for (int l = begin; l < end; ++l) {
    if (layout_.has_experts(l)) needed += static_cast<uint64_t>(layout_.n_expert());
  }
  const auto k = static_cast<uint64_t>(layout_.top_k());
  if (needed + k > pool_.size()) {
    fail("keeping layers [{}, {}) resident needs {} slots plus a top-{} working set, but the "
         "expert cache holds {} slots of {:.2f} MiB",
         begin, end, needed, k, pool_.size(), static_cast<double>(pool_.slot_bytes()) / (1 << 20));
  }
  std::vector<ReadRequest> batch;
  std::vector<int> slots;
  {
    std::lock_guard lock(mutex_);
    for (int l = begin; l < end; ++l) {
      if (!layout_.has_experts(l)) continue;
      for (int e = 0; e < layout_.n_expert(); ++e) {
        const SlotPool::Binding b = pool_.bind(key(l, e), 1.0f, true);
        STRATA_CHECK(b.slot >= 0 && b.evicted_key < 0);
        account_binding(b);
        ++pool_[b.slot].readers;
        start_load(b.slot, true, batch);
        slots.push_back(b.slot);
      }
    }
  }
  backend_->submit(std::move(batch));
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] {
    return std::all_of(slots.begin(), slots.end(),
                       [&](int s) { return pool_[s].state != SlotState::Loading; });
  });
  std::string error;
  for (int s : slots) {
    if (pool_[s].state == SlotState::Failed && error.empty()) {
      error = fmt::format("cannot load resident expert {} of layer {}: {}", expert_of(pool_[s].key),
                          layer_of(pool_[s].key), pool_[s].error);
    }
  }
  drop_readers(slots);
  if (!error.empty()) throw Error(error);
}

void ExpertStore::account_binding(const SlotPool::Binding& b) {
  if (b.evicted_key < 0) return;
  const int l = layer_of(b.evicted_key), e = expert_of(b.evicted_key);
  ++stats_.layers[static_cast<size_t>(l)].evictions;
  ++stats_.expert(l, e).evictions;
  if (b.evicted_unused_prefetch) {
    ++stats_.layers[static_cast<size_t>(l)].prefetch_wasted;
    ++stats_.expert(l, e).prefetch_wasted;
  }
}

void ExpertStore::start_load(int s, bool urgent, std::vector<ReadRequest>& batch) {
  Slot& slot = pool_[s];
  const int l = layer_of(slot.key), e = expert_of(slot.key);
  const ExpertLocation& loc = layout_.at(l, e);
  const auto plan = plan_parts(loc);
  slot.state = SlotState::Loading;
  slot.error.clear();
  slot.pending = 0;
  for (size_t p = 0; p < 3; ++p) {
    // Chunks, so that even a single expert's read keeps the device queue busy.
    for (uint64_t at = 0; at < plan[p].length; at += kReadChunk) {
      ReadRequest r;
      r.fd = read_fds_[static_cast<size_t>(loc.parts[p].file_index)];
      r.offset = plan[p].file_offset + at;
      r.length = std::min(kReadChunk, plan[p].length - at);
      r.required = std::min(r.length, plan[p].required > at ? plan[p].required - at : 0);
      r.dst = slot.data + plan[p].slot_offset + at;
      r.tag = read_tag(s, p);
      r.urgent = urgent;
      batch.push_back(r);
      ++slot.pending;
    }
  }
  ++stats_.layers[static_cast<size_t>(l)].promotions;
  ++stats_.expert(l, e).promotions;
}

void ExpertStore::on_read_done(const ReadCompletion& c) {
  {
    std::lock_guard lock(mutex_);
    const int s = slot_of_tag(c.tag);
    Slot& slot = pool_[s];
    STRATA_CHECK(slot.pending > 0 && slot.state == SlotState::Loading);
    const int l = layer_of(slot.key), e = expert_of(slot.key);
    stats_.layers[static_cast<size_t>(l)].bytes_tier2 += c.bytes;
    stats_.expert(l, e).bytes_tier2 += c.bytes;
    if (!c.ok && slot.error.empty()) {
      const ExpertPartLocation& part = layout_.at(l, e).parts[part_of_tag(c.tag)];
      slot.error = fmt::format("{} (file '{}')", c.error,
                               layout_.files()[static_cast<size_t>(part.file_index)].path);
    }
    if (--slot.pending > 0) return;
    slot.state = slot.error.empty() ? SlotState::Ready : SlotState::Failed;
    if (slot.state == SlotState::Failed && slot.readers == 0) pool_.unbind(s);
  }
  cv_.notify_all();
}

void ExpertStore::drop_readers(const std::vector<int>& slots) {
  for (int s : slots) {
    Slot& slot = pool_[s];
    STRATA_CHECK(slot.readers > 0);
    if (--slot.readers == 0 && slot.state == SlotState::Failed && slot.pending == 0) pool_.unbind(s);
  }
}

ExpertWeights ExpertStore::weights_in_slot(int s, int layer, int expert) const {
  const ExpertLocation& loc = layout_.at(layer, expert);
  const auto plan = plan_parts(loc);
  const uint8_t* base = pool_[s].data;
  ExpertWeights w;
  w.expert = expert;
  w.gate = matrix(loc.parts[0], base + plan[0].slot_offset + plan[0].lead);
  w.up = matrix(loc.parts[1], base + plan[1].slot_offset + plan[1].lead);
  w.down = matrix(loc.parts[2], base + plan[2].slot_offset + plan[2].lead);
  return w;
}

ExpertWeights ExpertStore::weights_in_mapping(int layer, int expert) const {
  const ExpertLocation& loc = layout_.at(layer, expert);
  ExpertWeights w;
  w.expert = expert;
  w.gate = matrix(loc.parts[0], layout_.mapped(loc.parts[0]));
  w.up = matrix(loc.parts[1], layout_.mapped(loc.parts[1]));
  w.down = matrix(loc.parts[2], layout_.mapped(loc.parts[2]));
  return w;
}

ExpertLease ExpertStore::acquire_async(int layer, std::span<const int> experts,
                                       std::span<const float> router_scores) {
  if (!layout_.has_experts(layer)) fail("layer {} has no routed experts", layer);
  if (!router_scores.empty() && router_scores.size() != experts.size()) {
    fail("acquire: {} router scores for {} experts", router_scores.size(), experts.size());
  }
  std::vector<uint64_t> nbytes;
  nbytes.reserve(experts.size());
  for (int e : experts) {
    if (e < 0 || e >= layout_.n_expert()) {
      fail("expert {} of layer {} is out of range ({} experts)", e, layer, layout_.n_expert());
    }
    nbytes.push_back(layout_.at(layer, e).nbytes());  // throws for an expert never recorded
  }
  const size_t n = experts.size();
  std::vector<int> slot_of(n, -1);   // -1: served from the mapping
  std::vector<int> held;
  std::vector<ReadRequest> batch;
  std::vector<size_t> overflow;
  std::vector<uint64_t> expedite;  // read tags of prefetched experts still loading
  std::unique_lock lock(mutex_);
  StoreCounters& lc = stats_.layers[static_cast<size_t>(layer)];
  // A layer at or below the last one seen starts a new forward pass: one policy time step.
  if (layer <= last_layer_) pool_.policy().tick();
  last_layer_ = layer;
  std::vector<char>& predicted = predicted_[static_cast<size_t>(layer)];
  const bool had_prediction = !predicted.empty();

  for (size_t i = 0; i < n; ++i) {
    const int e = experts[i];
    const float w = router_scores.empty() ? 1.0f : router_scores[i];
    StoreCounters& ec = stats_.expert(layer, e);
    ++lc.requests;
    ++ec.requests;
    if (had_prediction) {
      ++lc.used_after_prediction;
      ++ec.used_after_prediction;
      if (predicted[static_cast<size_t>(e)] != 0) {
        ++lc.predicted_used;
        ++ec.predicted_used;
      }
    }
    int s = pool_.find(key(layer, e));
    if (s >= 0) {
      Slot& slot = pool_[s];
      if (slot.state == SlotState::Failed && slot.pending == 0) {
        ++lc.cold_misses;  // retry the read that failed before
        ++ec.cold_misses;
        start_load(s, true, batch);
      } else if (slot.state == SlotState::Ready) {
        if (slot.prefetched) {
          ++lc.prefetch_hits;
          ++ec.prefetch_hits;
        } else {
          ++lc.hits;
          ++ec.hits;
        }
        lc.bytes_tier0 += nbytes[i];
        ec.bytes_tier0 += nbytes[i];
      } else {
        ++lc.inflight_misses;
        ++ec.inflight_misses;
        for (uint64_t tag : read_tags(s)) expedite.push_back(tag);
      }
      slot.prefetched = false;
      pool_.touch(s, w);
    } else {
      const SlotPool::Binding b = pool_.bind(key(layer, e), w, false);
      if (b.slot < 0) {
        ++lc.overflows;
        ++ec.overflows;
        lc.bytes_tier1 += nbytes[i];
        ec.bytes_tier1 += nbytes[i];
        overflow.push_back(i);
        continue;
      }
      account_binding(b);
      ++lc.cold_misses;
      ++ec.cold_misses;
      s = b.slot;
      start_load(s, true, batch);
    }
    ++pool_[s].readers;
    slot_of[i] = s;
    held.push_back(s);
  }
  if (had_prediction) {
    drop_unused_predictions(layer, experts, predicted);
    predicted.clear();
  }
  lock.unlock();

  backend_->expedite(expedite);
  backend_->submit(std::move(batch));
  // Tier-1 overflow: fault the pages in now, so compute does not.
  for (size_t i : overflow) {
    for (const ExpertPartLocation& p : layout_.at(layer, experts[i]).parts) {
      populate_read(layout_.mapped(p), p.nbytes);
    }
  }

  lock.lock();
  std::vector<ExpertWeights> weights(n);
  std::vector<char> ready(n, 1);
  bool all_ready = true;
  std::vector<int> held_experts;
  std::vector<size_t> held_index;
  for (size_t i = 0; i < n; ++i) {
    const int s = slot_of[i];
    if (s < 0) {
      weights[i] = weights_in_mapping(layer, experts[i]);
      continue;
    }
    weights[i] = weights_in_slot(s, layer, experts[i]);
    held_experts.push_back(experts[i]);
    held_index.push_back(i);
    if (pool_[s].state != SlotState::Ready) {
      ready[i] = 0;  // Loading, or Failed: wait() reports the error
      all_ready = false;
    }
  }
  const uint64_t ticket = ++next_ticket_;
  tickets_[ticket] =
      Ticket{layer, std::move(held), std::move(held_experts), std::move(held_index), process_major_faults()};
  if (all_ready) ready.clear();
  return ExpertLease(this, ticket, std::move(weights), std::move(ready));
}

ExpertLease ExpertStore::acquire(int layer, std::span<const int> experts,
                                 std::span<const float> router_scores) {
  ExpertLease lease = acquire_async(layer, experts, router_scores);
  lease.wait_all();
  return lease;
}

void ExpertStore::wait(uint64_t ticket, std::vector<char>& ready, bool all) {
  std::unique_lock lock(mutex_);
  auto it = tickets_.find(ticket);
  STRATA_CHECK(it != tickets_.end());
  const Ticket& t = it->second;
  STRATA_CHECK(t.lease_index.empty() || t.lease_index.back() < ready.size());
  auto loading = [&](size_t h) { return pool_[t.slots[h]].state == SlotState::Loading; };
  auto done = [&] {
    size_t waiting = 0, landed = 0;  // among the experts not marked ready yet
    for (size_t h = 0; h < t.slots.size(); ++h) {
      if (ready[t.lease_index[h]] == 0) ++(loading(h) ? waiting : landed);
    }
    return all ? waiting == 0 : landed > 0 || waiting == 0;
  };
  if (!done()) {
    const auto start = std::chrono::steady_clock::now();
    cv_.wait(lock, done);
    stats_.layers[static_cast<size_t>(t.layer)].stall_ns += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
            .count());
  }
  for (size_t h = 0; h < t.slots.size(); ++h) {
    const Slot& slot = pool_[t.slots[h]];
    if (slot.state == SlotState::Failed) {
      // The lease still holds its readers; its release drops them (and frees the slot).
      fail("cannot read expert {} of layer {}: {}", t.experts[h], t.layer, slot.error);
    }
    if (slot.state == SlotState::Ready) ready[t.lease_index[h]] = 1;
  }
}

void ExpertStore::release(uint64_t ticket) {
  const uint64_t faults = process_major_faults();
  std::lock_guard lock(mutex_);
  auto it = tickets_.find(ticket);
  STRATA_CHECK(it != tickets_.end());
  stats_.layers[static_cast<size_t>(it->second.layer)].compute_major_faults +=
      faults - it->second.faults_at_start;
  drop_readers(it->second.slots);
  tickets_.erase(it);
}

void ExpertStore::drop_unused_predictions(int layer, std::span<const int> used,
                                          const std::vector<char>& predicted) {
  for (int e = 0; e < layout_.n_expert(); ++e) {
    if (predicted[static_cast<size_t>(e)] == 0 || std::find(used.begin(), used.end(), e) != used.end()) continue;
    const int s = pool_.find(key(layer, e));
    if (s < 0) continue;
    Slot& slot = pool_[s];
    // Only reads not started yet: dropping a filled slot was measured to cost more than it
    // saves, since the same wrong guess tends to come back next token and be read again.
    if (!slot.prefetched || slot.readers > 0 || slot.pinned || slot.state != SlotState::Loading) continue;
    if (!backend_->withdraw(read_tags(s), static_cast<size_t>(slot.pending))) continue;
    slot.pending = 0;
    for (StoreCounters* c : {&stats_.layers[static_cast<size_t>(layer)], &stats_.expert(layer, e)}) {
      ++c->prefetch_withdrawn;
      ++c->prefetch_wasted;
    }
    pool_.unbind(s);
  }
}

void ExpertStore::prefetch(int layer, std::span<const int> experts) {
  if (!layout_.has_experts(layer)) return;
  std::vector<ReadRequest> batch;
  {
    std::lock_guard lock(mutex_);
    std::vector<char>& predicted = predicted_[static_cast<size_t>(layer)];
    // Predictions made from several earlier layers accumulate until the layer is acquired.
    if (predicted.empty()) predicted.assign(static_cast<size_t>(layout_.n_expert()), 0);
    StoreCounters& lc = stats_.layers[static_cast<size_t>(layer)];
    for (int e : experts) {
      if (e < 0 || e >= layout_.n_expert() || predicted[static_cast<size_t>(e)] != 0) continue;
      predicted[static_cast<size_t>(e)] = 1;
      ++lc.predicted;
      ++stats_.expert(layer, e).predicted;
      if (pool_.find(key(layer, e)) >= 0) continue;
      const SlotPool::Binding b = pool_.bind(key(layer, e), 1.0f, false);
      if (b.slot < 0) continue;  // every slot busy: the acquire will read it
      account_binding(b);
      start_load(b.slot, false, batch);
      pool_[b.slot].prefetched = true;
      ++lc.prefetch_issued;
      ++stats_.expert(layer, e).prefetch_issued;
    }
  }
  backend_->submit(std::move(batch));
}

void ExpertStore::wait_idle() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] {
    for (size_t s = 0; s < pool_.size(); ++s) {
      if (pool_[static_cast<int>(s)].state == SlotState::Loading) return false;
    }
    return true;
  });
}

StoreStats ExpertStore::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace strata
