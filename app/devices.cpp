#include "app/devices.h"

#include <cstdio>

#include "engine/cpu.h"
#include "engine/error.h"

namespace cupick {

std::unique_ptr<Context> open_device(const DeviceChoice& choice) {
  cpu::set_threads(choice.threads);
  if (choice.cpu) return std::make_unique<Context>();
  if (choice.gpus.size() > 1) throw Error("this command runs on one GPU: give one id to -g");
  if (choice.gpus.size() == 1) return std::make_unique<Context>(choice.gpus[0]);
  if (auto gpu = Context::try_gpu()) return gpu;
  return std::make_unique<Context>();
}

std::vector<std::unique_ptr<Context>> open_devices(const DeviceChoice& choice) {
  std::vector<std::unique_ptr<Context>> contexts;
  cpu::set_threads(choice.threads);
  if (!choice.cpu && choice.gpus.size() > 1)
    for (int id : choice.gpus) contexts.push_back(std::make_unique<Context>(id));
  else
    contexts.push_back(open_device(choice));
  return contexts;
}

void print_warnings(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) std::fprintf(stderr, "warning: %s\n", printable(w).c_str());
}

}  // namespace cupick
