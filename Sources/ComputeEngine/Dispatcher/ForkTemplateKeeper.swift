import Logging
import Multiprocessing

/// The fork templates of a pool of the fork start method: the single-threaded copy of the
/// pool's process that holds the kernel and forks every worker
/// (``ForkserverClient/template(entryPoint:budget:beforeConfirming:)``), made when the pool starts and
/// replaced when it is gone or may hold a lock. Used under the pool's lock.
final class ForkTemplateKeeper {
  private let make: () throws -> ForkserverClient
  private let logger: Logger
  /// The template that forks new workers.
  private(set) var current: ForkserverClient
  /// Templates replaced while workers they forked may still run (those die with them): stopped
  /// at shutdown.
  private var retired: [ForkserverClient] = []

  /// Forks the first template of `kernel`'s pool, once this process has built the metadata
  /// the workers need (``PoolKernel/warmUpOnce()``), for the template and its workers to
  /// inherit.
  init<Input, Output>(kernel: PoolKernel<Input, Output>, logger: Logger) throws {
    kernel.warmUpOnce()
    make = { try ForkserverClient.template(entryPoint: kernel) }
    self.logger = logger
    current = try make()
  }

  /// Replaces the template: one that is `gone` is stopped (reaped); one whose worker never
  /// reported in (it may have inherited a held lock) is kept until shutdown.
  func replace(gone: Bool) throws {
    if gone { current.stop() } else { retired.append(current) }
    current = try make()
    logger.notice("replaced the pool's fork template", metadata: ["pid": "\(current.serverPid)"])
  }

  /// Stops every template, current and retired.
  func stopAll() {
    for server in retired + [current] { server.stop() }
    retired = []
  }
}
