#include "storage/resident_mmap_source.h"

#include <chrono>

#include "common/error.h"
#include "storage/page_residency.h"

namespace strata {

namespace {

const char* residency_text(MmapResidency r) {
  switch (r) {
    case MmapResidency::Populate: return ", pages faulted in before expert compute";
    case MmapResidency::Prefaulted: return ", all pages prefaulted at load";
    case MmapResidency::Demand: return ", no hints: pages fault in during expert compute";
  }
  return "";
}

}  // namespace

ResidentMmapSource::ResidentMmapSource(std::unique_ptr<ExpertSource> inner, ExpertLayout layout,
                                       MmapResidency residency)
    : inner_(std::move(inner)),
      layout_(std::move(layout)),
      residency_(residency),
      description_(std::string(inner_->describe()) + residency_text(residency)),
      stats_(layout_.n_layer(), layout_.n_expert()),
      predicted_(static_cast<size_t>(layout_.n_layer())) {
  if (residency_ == MmapResidency::Populate) hinter_ = std::make_unique<ReadaheadHinter>();
}

ExpertLease ResidentMmapSource::acquire(int layer, std::span<const int> experts,
                                        std::span<const float> router_scores) {
  // The inner source validates layer and expert ids and throws for bad ones.
  ExpertLease inner = inner_->acquire(layer, experts, router_scores);
  const auto start = std::chrono::steady_clock::now();
  if (residency_ == MmapResidency::Populate) {
    hinter_->cancel(layer);  // what is still queued for this layer is faulted in below
    // Only ranges with pages missing from the page cache are hinted (all first, so the kernel
    // reads them in parallel) and then faulted in: on ranges already cached both calls cost far
    // more than the check.
    thread_local std::vector<const ExpertPartLocation*> missing;
    missing.clear();
    for (const ExpertWeights& w : inner.weights()) {
      for (const ExpertPartLocation& p : layout_.at(layer, w.expert).parts) {
        if (!is_resident(layout_.mapped(p), p.nbytes)) missing.push_back(&p);
      }
    }
    for (const ExpertPartLocation* p : missing) advise_willneed(layout_.mapped(*p), p->nbytes);
    for (const ExpertPartLocation* p : missing) populate_read(layout_.mapped(*p), p->nbytes);
  }
  const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now() - start);
  std::vector<ExpertWeights> weights = inner.weights();
  inner.reset();

  std::lock_guard lock(mutex_);
  StoreCounters& lc = stats_.layers[static_cast<size_t>(layer)];
  std::vector<char>& predicted = predicted_[static_cast<size_t>(layer)];
  for (const ExpertWeights& w : weights) {
    StoreCounters& ec = stats_.expert(layer, w.expert);
    ++lc.requests;
    ++ec.requests;
    const uint64_t n = layout_.at(layer, w.expert).nbytes();
    lc.bytes_tier1 += n;
    ec.bytes_tier1 += n;
    if (!predicted.empty()) {
      ++lc.used_after_prediction;
      ++ec.used_after_prediction;
      if (predicted[static_cast<size_t>(w.expert)] != 0) {
        ++lc.predicted_used;
        ++ec.predicted_used;
      }
    }
  }
  predicted.clear();
  lc.stall_ns += static_cast<uint64_t>(waited.count());
  const uint64_t ticket = ++next_ticket_;
  tickets_[ticket] = {layer, process_major_faults()};
  return ExpertLease(this, ticket, std::move(weights));
}

void ResidentMmapSource::release(uint64_t ticket) {
  const uint64_t faults = process_major_faults();
  std::lock_guard lock(mutex_);
  auto it = tickets_.find(ticket);
  STRATA_CHECK(it != tickets_.end());
  stats_.layers[static_cast<size_t>(it->second.layer)].compute_major_faults +=
      faults - it->second.faults_at_start;
  tickets_.erase(it);
}

void ResidentMmapSource::prefetch(int layer, std::span<const int> experts) {
  if (residency_ != MmapResidency::Populate || !layout_.has_experts(layer)) return;
  {
    std::lock_guard lock(mutex_);
    std::vector<char>& predicted = predicted_[static_cast<size_t>(layer)];
    predicted.assign(static_cast<size_t>(layout_.n_expert()), 0);
    for (int e : experts) {
      if (e < 0 || e >= layout_.n_expert() || predicted[static_cast<size_t>(e)] != 0) continue;
      predicted[static_cast<size_t>(e)] = 1;
      ++stats_.layers[static_cast<size_t>(layer)].predicted;
      ++stats_.expert(layer, e).predicted;
    }
  }
  thread_local std::vector<ReadaheadHinter::Range> ranges;
  ranges.clear();
  for (int e : experts) {
    if (e < 0 || e >= layout_.n_expert()) continue;
    for (const ExpertPartLocation& p : layout_.at(layer, e).parts) ranges.push_back({layout_.mapped(p), p.nbytes});
  }
  hinter_->hint(layer, ranges);
}

StoreStats ResidentMmapSource::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace strata
