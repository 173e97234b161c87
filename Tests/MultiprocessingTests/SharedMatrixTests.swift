import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A shared 2-D array: bands of rows written by separate processes, rows as buffers, the
/// handle reopened by spawned and fork-server children, and bad shapes refused.
@Suite(.timeLimit(.minutes(3))) struct SharedMatrixTests {
  @Test func bandsWrittenByTwoProcessesMakeTheWholeGrid() throws {
    let grid = try SharedMatrix(rows: 300, columns: 7, repeating: -1.0)
    let view = grid.view
    let children = try [0..<150, 150..<300].map { rows in
      try forked {
        let band = view.rows(rows)
        for row in band.rowRange {
          for column in 0..<band.columns { band[row, column] = Double(row * 10 + column) }
        }
      }
    }
    for child in children { try child.join() }
    #expect(try children.map { try $0.exitCode } == [0, 0])
    #expect(grid[299, 6] == 2996 && grid[0, 0] == 0)
    #expect(Array(grid.row(3)) == (0..<7).map { Double(30 + $0) })
    #expect(grid.cells.count == 2100 && grid.cells.allSatisfy { $0 >= 0 })
    let twoRows: [Double] = (100..<107).map(Double.init) + (110..<117).map(Double.init)
    #expect(Array(view.rows(10..<12).cells) == twoRows)
  }

  @Test(arguments: StartMethod.allCases)
  func reopenedByHandle(method: StartMethod) throws {
    let matrix = try SharedMatrix<Int32>(rows: 5, columns: 4, repeating: 0)
    let child = Fixture.process(method, SyncEntryPoints.fillMatrix, matrix.handle)
    try child.start()
    try child.join()
    #expect(try child.exitCode == 0)
    #expect(matrix[4, 3] == 403 && matrix[2, 1] == 201)
  }

  @Test func aCellOutsideTheBandTraps() throws {
    let matrix = try SharedMatrix(rows: 4, columns: 4, repeating: 0)
    let child = try forked {
      dup2(open("/dev/null", O_WRONLY), 2)  // keep the trap's backtrace out of the test log
      let band = matrix.view.rows(0..<2)
      band[2, 0] = 1
    }
    try child.join()
    #expect([-SIGILL, -SIGTRAP].contains(try child.exitCode ?? 0))
    #expect(matrix[2, 0] == 0)
  }

  /// Filled by doubling copies of bytes: every element, whatever its size, count or padding.
  @Test func filledWithAnyElement() throws {
    struct Padded: BitwiseCopyable, Equatable {
      var flag: Int8
      var value: Int64
    }
    for count in [1, 2, 3, 1000, 4097] {
      #expect(
        try SharedArray(repeating: Padded(flag: -2, value: 7), count: count).allSatisfy {
          $0 == Padded(flag: -2, value: 7)
        })
      #expect(
        try SharedArray(repeating: Padded(flag: 0, value: 0), count: count).allSatisfy {
          $0 == Padded(flag: 0, value: 0)
        })
      #expect(try SharedArray(repeating: UInt8(9), count: count).allSatisfy { $0 == 9 })
    }
    let matrix = try SharedMatrix(rows: 3, columns: 5, repeating: -0.5)
    #expect(matrix.cells.allSatisfy { $0 == -0.5 })
  }

  /// Prefaulting maps pages and changes no value; a band of a matrix prefaults on its own.
  @Test func prefaultKeepsTheValues() throws {
    let matrix = try SharedMatrix(rows: 100, columns: 1000, repeating: 3.0)
    let child = try forked {
      let band = matrix.view.rows(10..<20)
      try band.cells.prefault()
      for row in band.rowRange { band[row, 0] = Double(row) }
    }
    try child.join()
    #expect(try child.exitCode == 0)
    #expect(matrix[15, 0] == 15 && matrix[15, 1] == 3 && matrix[99, 999] == 3)
    try matrix.cells[elements: 0..<0].prefault()
  }

  @Test func badShapesAreRefused() throws {
    #expect(
      throws: SynchronizationError.invalidArgument("a shared matrix needs 0 or more rows and columns, not -1 × 3")
    ) {
      try SharedMatrix(rows: -1, columns: 3, repeating: 0)
    }
    #expect(throws: SynchronizationError.self) { try SharedMatrix(rows: Int.max, columns: 2, repeating: 0) }
    let empty = try SharedMatrix(rows: 0, columns: 5, repeating: 0)
    #expect(empty.cells.isEmpty)
  }
}
