#include "tests/common/module_check.h"

#include <map>
#include <string>

namespace odegan::testing {

ad::GradcheckResult compare_module_devices(nn::Module& m, std::vector<ad::Var>& inputs, const std::function<ad::Var()>& f,
                                           Device device, const ad::CompareOptions& options) {
  auto leaves = [&] {
    std::vector<ad::Var> l;
    for (const ad::Var& x : inputs)
      if (x.requires_grad()) l.push_back(x);
    for (const ad::Var& p : m.parameters()) l.push_back(p);
    return l;
  };
  std::map<std::string, Tensor> buffers;
  for (auto& [name, b] : m.named_buffers()) buffers[name] = b->clone();
  ad::Derivatives ref = ad::derivatives(f, leaves(), options.order, options.seed);
  for (auto& [name, b] : m.named_buffers()) b->copy_(buffers.at(name));
  m.to(device);
  for (ad::Var& x : inputs) x = ad::Var(x.data().to(device), x.requires_grad());
  ad::Derivatives got = ad::derivatives(f, leaves(), options.order, options.seed);
  ad::GradcheckResult r = ad::compare(got, ref, options);
  if (!r.ok) r.message = device.str() + " vs cpu, " + m.type_name() + ": " + r.message;
  return r;
}

}  // namespace odegan::testing
