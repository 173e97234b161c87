import ComputeEngine
import Dispatch
import Foundation
import Multiprocessing

/// A Mandelbrot image rendered row by row: rows near the set cost hundreds of iterations a
/// pixel, rows far from it a few, so the work is uneven and must be handed out dynamically.
///
/// Versions of one job, whose images must be identical: serial, threads (`concurrentPerform`
/// over the rows), a ``ProcessPool`` whose kernel renders one row and returns its bytes — as
/// `[UInt8]`, the obvious type, and as `Data`, to show that both travel at the same speed —
/// and a ``ProcessTeam`` whose members render rows straight into a ``SharedMatrix``.
///
/// Threads are the better choice when the image must be written into one buffer with no copy
/// (each process's rows come back through shared memory and are copied once), or when the
/// job is shorter than a pool's start (about 4 ms here); processes pay off when a render can
/// crash on bad input, or when the kernel holds locks or state that threads would contend on.
enum Render {
  /// The iterations after which a point counts as inside the set.
  static let limit = 255

  /// Row `row` of a `width` × `height` image: each pixel the number of iterations its point
  /// took to escape (`limit` for the set itself).
  static func row(_ row: Int, width: Int, height: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: width) { pixels, initialized in
      let imaginary = -1.2 + 2.4 * Double(row) / Double(height)
      for column in 0..<width {
        let real = -2.1 + 3.0 * Double(column) / Double(width)
        var (x, y, iterations) = (0.0, 0.0, 0)
        while iterations < limit, x * x + y * y <= 4 {
          (x, y) = (x * x - y * y + real, 2 * x * y + imaginary)
          iterations += 1
        }
        pixels[column] = UInt8(iterations)
      }
      initialized = width
    }
  }

  /// The image, row after row, rendered on this thread.
  static func serial(width: Int, height: Int) -> [UInt8] {
    (0..<height).flatMap { row($0, width: width, height: height) }
  }

  /// The image, its rows rendered by threads, each into its place.
  static func threads(width: Int, height: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: width * height) { image, initialized in
      let target = UncheckedBytes(image.baseAddress!)
      DispatchQueue.concurrentPerform(iterations: height) { index in
        let pixels = row(index, width: width, height: height)
        pixels.withUnsafeBufferPointer { (target.pointer + index * width).update(from: $0.baseAddress!, count: width) }
      }
      initialized = width * height
    }
  }

  /// A pool whose workers render a row each and return it as `[UInt8]`.
  static func pool(width: Int, height: Int) throws -> ProcessPool<Int, [UInt8]> {
    try ProcessPool { row($0, width: width, height: height) }
  }

  /// A pool whose workers render a row each and return it as `Data`.
  static func dataPool(width: Int, height: Int) throws -> ProcessPool<Int, Data> {
    try ProcessPool { Data(row($0, width: width, height: height)) }
  }

  /// The image, its rows rendered by a team's members straight into a shared image (rows
  /// claimed a few at a time, as they finish): no row travels, the image is copied out once.
  static func team(width: Int, height: Int, team: ProcessTeam) throws -> [UInt8] {
    let image = try SharedMatrix(rows: height, columns: width, repeating: UInt8(0))
    let view = image.view
    try team.forEach(0..<height, chunkSize: 4) { index in
      let pixels = row(index, width: width, height: height)
      view.row(index).assign(from: pixels)
    }
    return Array(image.cells)
  }

  /// The image, its rows rendered by `pool`'s workers, 16 rows to a chunk: rows of unequal
  /// cost balance out only in small chunks (the automatic size, a quarter of each worker's
  /// share, left one worker idle for the last tenth of the render here).
  static func processes(height: Int, pool: ProcessPool<Int, [UInt8]>) throws -> [UInt8] {
    Array(try pool.map(Array(0..<height), chunkSize: 16).joined())
  }

  /// The image, its rows rendered by `pool`'s workers and returned as `Data`.
  static func processes(height: Int, pool: ProcessPool<Int, Data>) throws -> [UInt8] {
    Array(try pool.map(Array(0..<height), chunkSize: 16).joined())
  }
}

/// The image's bytes, which the threads write row by row.
struct UncheckedBytes: @unchecked Sendable {
  // @unchecked: each thread writes its own row, and `concurrentPerform` returns only when
  // all of them are done.
  let pointer: UnsafeMutablePointer<UInt8>
  init(_ pointer: UnsafeMutablePointer<UInt8>) { self.pointer = pointer }
}
