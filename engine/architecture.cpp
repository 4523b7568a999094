#include "engine/architecture.h"

#include "common/error.h"

namespace strata {

std::unique_ptr<Architecture> make_architecture(const Model& model) {
  switch (model.arch()) {
    case Arch::Llama: return make_llama_architecture();
    case Arch::Qwen2: return make_qwen2_architecture();
    case Arch::Qwen3: return make_qwen3_architecture();
    case Arch::Qwen2Moe: return make_qwen2moe_architecture();
    case Arch::Qwen3Moe: return make_qwen3moe_architecture();
    case Arch::Olmoe: return make_olmoe_architecture();
    case Arch::Deepseek2:
    case Arch::GptOss:
      break;
  }
  fail("architecture '{}' is not supported by the engine yet (supported: llama, qwen2, qwen3, "
       "qwen2moe, qwen3moe, olmoe)",
       arch_name(model.arch()));
}

}  // namespace strata
