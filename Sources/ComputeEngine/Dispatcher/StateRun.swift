/// The end of the run of bytes equal to `value` in `states` that starts at `start`, at most
/// `limit`: eight states at a time while they all match, then one by one. A job's and the
/// claim board's per-task states are scanned this way, so that their results are recorded a
/// run at a time.
func stateRunEnd(in states: UnsafePointer<UInt8>, from start: Int, below limit: Int, equalTo value: UInt8) -> Int {
  var end = start
  let eight = UInt64(value) &* 0x0101_0101_0101_0101
  while end + 8 <= limit, UnsafeRawPointer(states + end).loadUnaligned(as: UInt64.self) == eight { end += 8 }
  while end < limit, states[end] == value { end += 1 }
  return end
}
