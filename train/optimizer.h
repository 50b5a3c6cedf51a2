// Adam over a network's trainable parameters (docs/BEHAVIOUR.md §5.4), as Keras 2.2 computes it:
// the formula and its per-element code, shared by the host and the GPU, are in kernels/adam.h.
//
// The moments m and v live beside the parameters (same device, same type) and are allocated once.
// Create the optimizer after moving the network (Graph::to): step() refuses parameters that moved.
//
// Resuming training: state() names the moments "adam/m/<layer>/<param>" and "adam/v/<layer>/<param>"
// so that io/weights.h can store them, and metadata() / restore() carry the step count and the
// learning rate as strings:
//   save_weights(path, adam.state(), adam.metadata());
//   load_weights(path, adam.state());  adam.restore(read_metadata(path));
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace cupick {

class Adam {
 public:
  // Says whether to train the parameter "<layer>/<param>" (fine-tuning trains only some layers).
  using Filter = std::function<bool(const std::string& name)>;

  // Trains every trainable parameter; batchnorm's moving statistics are not trainable and are skipped.
  Adam(std::vector<NamedParam> params, float lr, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f);
  // Trains the trainable parameters that `train` accepts; the others keep their values. Throws when
  // it accepts none (a mistyped layer name would otherwise train nothing, silently).
  Adam(std::vector<NamedParam> params, float lr, Filter train, float beta1 = 0.9f, float beta2 = 0.999f,
       float eps = 1e-8f);

  // One update from the gradients the last backward wrote, on ctx's device (which must hold the
  // parameters). Counts the step first, so the first update uses t = 1 as Keras does.
  void step(Context& ctx);

  float learning_rate() const { return lr_; }
  void set_learning_rate(float lr);
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps);

  // The moments of every trained parameter, m then v for each, in the order of the parameters.
  // The pointers stay valid as long as this optimizer.
  std::vector<NamedParam> state();
  // {"adam/steps": "<t>", "adam/learning_rate": "<lr>"}, exact as text; restore() reads them back
  // and throws naming a missing or malformed entry.
  std::map<std::string, std::string> metadata() const;
  void restore(const std::map<std::string, std::string>& metadata);

 private:
  struct Slot {
    std::string name;  // "<layer>/<param>"
    Param* param;
    Param m, v;  // values only: named "adam/m/<name>", "adam/v/<name>", not trainable
  };
  void check(const Context& ctx) const;

  std::vector<Slot> slots_;
  float lr_, beta1_, beta2_, eps_;
  int64_t steps_ = 0;
};

}  // namespace cupick
