import Foundation
import SystemCalls

/// Starts a thread that runs `body` under `name`, as `top -H`, `ps -L` and debuggers show it
/// (the kernel keeps its first 15 bytes). The name is set by the thread itself: on Linux,
/// Foundation's `Thread.name` set before the start never reaches the kernel.
package func startThread(named name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
  let thread = Thread {
    SystemCall.setThreadName(name)
    body()
  }
  if let stackSize { thread.stackSize = stackSize }
  thread.start()
}
