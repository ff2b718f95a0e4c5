// safetensors files: an 8-byte little-endian header length N, N bytes of JSON describing
// each tensor ({"dtype", "shape", "data_offsets"}, plus "__metadata__"), then the raw
// little-endian data. Readable by PyTorch, JAX and NumPy tooling.
#pragma once
#include <map>
#include <string>

#include "core/tensor.h"

namespace odegan {

using TensorMap = std::map<std::string, Tensor>;

// Writes atomically (a temporary file in the same directory, flushed, then renamed), so
// a crash never leaves a half-written file under `path`. CUDA tensors are copied to host.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor onto `device`. Malformed files are rejected with an error naming the
// file, the tensor and the problem (not a regular file, bad header length, invalid JSON,
// duplicate names, unknown dtype, sizes that overflow, offsets out of range or
// inconsistent with the shape, overlapping tensors or holes in the data). Nothing is
// allocated before the header has been checked against the file's size.
TensorMap load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr,
                           Device device = Device::cpu());
// The same from bytes in memory; `name` stands for the file in messages.
TensorMap read_safetensors_memory(const void* data, size_t size, const std::string& name,
                                  std::map<std::string, std::string>* metadata = nullptr,
                                  Device device = Device::cpu());

}  // namespace odegan
