import ComputeEngine
import Dispatch
import Multiprocessing

/// A 2-D heat-diffusion stencil (Jacobi sweeps of the 5-point Laplacian) on an n × n grid:
/// the edges held at fixed temperatures, each step computing a new grid from the last.
///
/// Three versions of one job, whose grids must come out identical bit for bit: serial, a
/// team of threads (`concurrentPerform` per step), and a ``ProcessTeam`` of pinned processes
/// (one team for the whole run, a barrier per step) over two ``SharedMatrix`` grids.
///
/// Threads are the better choice when steps are short (a few microseconds of work each: the
/// team's barrier costs a futex wake-up per member) or when the grid must end up in ordinary
/// Swift arrays; processes pay off when the sweep is long enough to hide the barrier, and when
/// a member's crash or a trap must not take the caller with it.
enum HeatDiffusion {
  /// How much of the neighbours' difference a cell takes per step (stable below 0.25).
  static let rate = 0.2

  /// The grid at step 0: 0 inside, the top edge at 100, the left edge at 50.
  static func initialize(_ cells: UnsafeMutableBufferPointer<Double>, size: Int) {
    for row in 0..<size {
      for column in 0..<size {
        cells[row * size + column] = row == 0 ? 100 : column == 0 ? 50 : 0
      }
    }
  }

  /// One step over `rows` (interior rows only are changed): `next` from `current`.
  @inline(__always)
  static func sweep(
    _ current: UnsafeMutablePointer<Double>, into next: UnsafeMutablePointer<Double>, rows: Range<Int>, size: Int
  ) {
    for row in max(rows.lowerBound, 1)..<min(rows.upperBound, size - 1) {
      let above = current + (row - 1) * size
      let here = current + row * size
      let below = current + (row + 1) * size
      let out = next + row * size
      for column in 1..<(size - 1) {
        let laplacian = above[column] + below[column] + here[column - 1] + here[column + 1] - 4 * here[column]
        out[column] = here[column] + rate * laplacian
      }
    }
  }

  /// The grid after `steps` steps, computed on this thread.
  static func serial(size: Int, steps: Int) -> [Double] {
    var current = [Double](repeating: 0, count: size * size)
    current.withUnsafeMutableBufferPointer { initialize($0, size: size) }
    var next = current
    for _ in 0..<steps {
      current.withUnsafeMutableBufferPointer { from in
        next.withUnsafeMutableBufferPointer { to in
          sweep(from.baseAddress!, into: to.baseAddress!, rows: 0..<size, size: size)
        }
      }
      swap(&current, &next)
    }
    return current
  }

  /// The grid after `steps` steps, each step's rows split over `workers` threads.
  static func threads(size: Int, steps: Int, workers: Int) -> [Double] {
    let grids = (0..<2).map { _ in UnsafeMutableBufferPointer<Double>.allocate(capacity: size * size) }
    defer { grids.forEach { $0.deallocate() } }
    initialize(grids[0], size: size)
    _ = grids[1].initialize(fromContentsOf: grids[0])
    let current = grids.map { UncheckedPointer($0.baseAddress!) }
    for step in 0..<steps {
      let (from, to) = (current[step % 2], current[1 - step % 2])
      DispatchQueue.concurrentPerform(iterations: workers) { worker in
        let rows = (worker * size / workers)..<((worker + 1) * size / workers)
        sweep(from.pointer, into: to.pointer, rows: rows, size: size)
      }
    }
    return Array(grids[steps % 2])
  }

  /// The grid after `steps` steps, on a team of pinned processes: each member maps the rows
  /// it touches at once (``SharedBuffer/prefault()``), then sweeps its band of rows and
  /// waits at the barrier for the others, step after step.
  static func team(size: Int, steps: Int, team: ProcessTeam) throws -> [Double] {
    let grids = try (0..<2).map { _ in try SharedMatrix(rows: size, columns: size, repeating: 0.0) }
    grids[0].cells.withUnsafeMutableBufferPointer { initialize($0, size: size) }
    grids[1].cells.assign(from: grids[0].cells)
    let cells = grids.map(\.cells)
    try team.run { member in
      let rows = member.share(of: 0..<size)
      let touched = max(rows.lowerBound - 1, 0) * size..<min(rows.upperBound + 1, size) * size
      for grid in cells { try grid[elements: touched].prefault() }
      for step in 0..<steps {
        cells[step % 2].withUnsafeMutableBufferPointer { current in
          cells[1 - step % 2].withUnsafeMutableBufferPointer { next in
            sweep(current.baseAddress!, into: next.baseAddress!, rows: rows, size: size)
          }
        }
        try member.barrier()
      }
    }
    return Array(cells[steps % 2])
  }
}

/// A pointer the threads share: each writes its own rows between two joins.
struct UncheckedPointer: @unchecked Sendable {
  // @unchecked: threads write disjoint rows, and `concurrentPerform` returns only when all
  // of them are done.
  let pointer: UnsafeMutablePointer<Double>
  init(_ pointer: UnsafeMutablePointer<Double>) { self.pointer = pointer }
}
