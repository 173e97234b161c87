import CHwloc

extension CPUSet {
  /// The CPUs set in an hwloc bitmap (empty for a null or infinite bitmap).
  init(bitmap: hwloc_const_bitmap_t?) {
    guard let bitmap, hwloc_bitmap_weight(bitmap) > 0 else {
      self.init([])
      return
    }
    var cpus: [Int] = []
    var cpu = hwloc_bitmap_first(bitmap)
    while cpu >= 0 {
      cpus.append(Int(cpu))
      cpu = hwloc_bitmap_next(bitmap, cpu)
    }
    self.init(cpus)
  }

  /// A new hwloc bitmap holding these CPUs; the caller frees it with `hwloc_bitmap_free`.
  func makeBitmap() -> hwloc_bitmap_t {
    guard let bitmap = hwloc_bitmap_alloc() else { fatalError("hwloc_bitmap_alloc: out of memory") }
    for cpu in indices { hwloc_bitmap_set(bitmap, UInt32(cpu)) }
    return bitmap
  }
}
