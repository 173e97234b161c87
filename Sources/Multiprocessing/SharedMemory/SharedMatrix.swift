/// A rows × columns array in shared memory, row-major, with row and band views that a kernel
/// may capture: the grid of a stencil, an image, a block of a linear-algebra job.
///
/// Like an unlocked ``SharedArray``, it takes no lock: processes that write the same cells at
/// once synchronise themselves (a ``Barrier`` between steps, disjoint bands of rows per
/// process). A spawned or fork-server child reopens it from its ``handle``.
///
/// ```swift
/// let grid = try SharedMatrix(rows: 512, columns: 512, repeating: 0.0)
/// let band = grid.view.rows(0..<256)            // Sendable: rows 0 to 255, indexed as in the grid
/// band[10, 20] = 1.5
/// let row = grid.row(10)                        // a SharedBuffer of 512 cells
/// ```
public final class SharedMatrix<Element: BitwiseCopyable>: @unchecked Sendable {
  // @unchecked: the cells live in shared memory, unguarded by design (see above).

  /// What another process needs to reopen a matrix: its cells and its shape.
  public struct Handle: Codable, Sendable, Hashable {
    let cells: SharedArray<Element>.Handle
    let rows: Int
    let columns: Int
  }

  /// A view of a band of rows (all of them by default) that a kernel may capture and send.
  /// Rows keep the grid's indices; a cell outside the band traps.
  public struct View: @unchecked Sendable {
    // @unchecked: as ``SharedBuffer``: `owner` keeps the memory mapped, access is unguarded.
    @usableFromInline let owner: AnyObject
    @usableFromInline let base: UnsafeMutablePointer<Element>
    /// The rows the view covers, by their index in the grid.
    public let rowRange: Range<Int>
    /// The number of columns.
    public let columns: Int

    @usableFromInline
    init(owner: AnyObject, base: UnsafeMutablePointer<Element>, rowRange: Range<Int>, columns: Int) {
      self.owner = owner
      self.base = base
      self.rowRange = rowRange
      self.columns = columns
    }

    /// The cell at `row`, `column` (`row` in ``rowRange``, `column` in `0..<columns`).
    @inlinable
    public subscript(row: Int, column: Int) -> Element {
      get { base[offset(row, column)] }
      nonmutating set { base[offset(row, column)] = newValue }
    }

    @inlinable
    func offset(_ row: Int, _ column: Int) -> Int {
      precondition(rowRange.contains(row), "SharedMatrix row \(row) out of the view's rows \(rowRange)")
      precondition(column >= 0 && column < columns, "SharedMatrix column \(column) out of range 0..<\(columns)")
      return row * columns + column
    }

    /// Row `row`'s cells.
    @inlinable
    public func row(_ row: Int) -> SharedBuffer<Element> {
      precondition(rowRange.contains(row), "SharedMatrix row \(row) out of the view's rows \(rowRange)")
      return SharedBuffer(owner: owner, base: base + row * columns, count: columns)
    }

    /// The band of `rows`, which must lie within this view's.
    public func rows(_ rows: Range<Int>) -> View {
      precondition(
        rows.lowerBound >= rowRange.lowerBound && rows.upperBound <= rowRange.upperBound,
        "SharedMatrix rows \(rows) out of the view's rows \(rowRange)")
      return View(owner: owner, base: base, rowRange: rows, columns: columns)
    }

    /// The band's cells, row after row.
    public var cells: SharedBuffer<Element> {
      SharedBuffer(owner: owner, base: base + rowRange.lowerBound * columns, count: rowRange.count * columns)
    }
  }

  let storage: SharedArray<Element>
  /// The number of rows.
  public let rows: Int
  /// The number of columns.
  public let columns: Int

  /// A matrix of `rows` × `columns` copies of `element`.
  ///
  /// - Throws: ``SynchronizationError/invalidArgument(_:)`` for a negative dimension or one
  ///   whose product overflows.
  public init(rows: Int, columns: Int, repeating element: Element) throws {
    let (cells, overflow) = rows.multipliedReportingOverflow(by: columns)
    guard rows >= 0, columns >= 0, !overflow else {
      throw SynchronizationError.invalidArgument(
        "a shared matrix needs 0 or more rows and columns, not \(rows) × \(columns)")
    }
    storage = try SharedArray(repeating: element, count: cells, lock: nil)
    self.rows = rows
    self.columns = columns
  }

  /// Reopens a matrix from its ``handle`` (in a spawned or fork-server child).
  public init(_ handle: Handle) throws {
    storage = try SharedArray(handle.cells)
    guard handle.rows * handle.columns == storage.count else {
      throw SharedMemoryError.cannotReopen(
        "the handle's shape \(handle.rows) × \(handle.columns) does not match its \(storage.count) cells")
    }
    rows = handle.rows
    columns = handle.columns
  }

  /// What another process needs to reopen the matrix.
  public var handle: Handle { Handle(cells: storage.handle, rows: rows, columns: columns) }

  /// A view of every row.
  public var view: View { View(owner: storage.slot.memory, base: storage.base, rowRange: 0..<rows, columns: columns) }

  /// The cell at `row`, `column`.
  public subscript(row: Int, column: Int) -> Element {
    get { view[row, column] }
    set { view[row, column] = newValue }
  }

  /// Row `row`'s cells.
  public func row(_ row: Int) -> SharedBuffer<Element> { view.row(row) }

  /// Every cell, row after row.
  public var cells: SharedBuffer<Element> { storage.buffer }
}
