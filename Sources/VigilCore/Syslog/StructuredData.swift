/// One SD-ELEMENT of RFC 5424 STRUCTURED-DATA, as byte ranges into the frame.
public struct StructuredDataElement: Sendable, Equatable {
    /// The whole element including its `[` and `]`.
    public var range: Range<Int>
    /// The SD-ID, e.g. `timeQuality` or `origin@32473`.
    public var id: Range<Int>
    /// The bytes between the SD-ID and the closing `]`: the parameters, each preceded by a space.
    public var parameters: Range<Int>
}

/// One SD-PARAM (`name="value"`) of a structured-data element, as byte ranges into the frame.
public struct StructuredDataParameter: Sendable, Equatable {
    /// The PARAM-NAME.
    public var name: Range<Int>
    /// The value between the quotes, still escaped; see `StructuredDataReader.unescapeValue`.
    public var rawValue: Range<Int>
}

/// Walks the elements of an RFC 5424 STRUCTURED-DATA field without allocating.
///
/// Give it the frame and `SyslogFields.structuredData`; `next()` yields each element
/// in order and stops (nil) at the end or at the first malformed byte. Use
/// `parameters(of:)` to walk an element's parameters.
public struct StructuredDataReader: IteratorProtocol {
    private let frame: UnsafeRawBufferPointer
    private var position: Int
    private let end: Int

    /// A reader over `range` of `frame` (clamped to the frame, so any range is safe).
    public init(_ frame: UnsafeRawBufferPointer, range: Range<Int>) {
        self.frame = frame
        self.end = min(max(range.upperBound, 0), frame.count)
        self.position = min(max(range.lowerBound, 0), self.end)
    }

    /// The next element, or nil after the last one or at malformed input.
    public mutating func next() -> StructuredDataElement? {
        guard let element = StructuredDataReader.scanElement(frame, position, end) else {
            position = end
            return nil
        }
        position = element.range.upperBound
        return element
    }

    /// A reader over the parameters of `element` (which this reader returned).
    public func parameters(of element: StructuredDataElement) -> StructuredDataParameterReader {
        StructuredDataParameterReader(frame, range: element.parameters)
    }

    /// Decodes a raw parameter value: `\"`, `\\` and `\]` become `"`, `\` and `]`; any other
    /// backslash stays as written (RFC 5424 §6.3.3). Invalid UTF-8 is repaired with U+FFFD.
    /// Allocates the result; meant for consumers that store or display a value.
    public static func unescapeValue(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        let end = min(max(range.upperBound, 0), frame.count)
        let start = min(max(range.lowerBound, 0), end)
        return String(unsafeUninitializedCapacity: end - start) { out in
            var i = start, n = 0
            while i < end {
                var c = frame[i]
                if c == 0x5C, i + 1 < end {
                    let e = frame[i + 1]
                    if e == 0x22 || e == 0x5C || e == 0x5D { c = e; i += 1 }
                }
                out[n] = c
                n += 1
                i += 1
            }
            return n
        }
    }

    /// Reads one SD-ELEMENT starting exactly at `start` (which must be `[`); nil if malformed
    /// or unterminated before `end`. SD-ID and PARAM-NAME are 1...32 printable US-ASCII bytes
    /// other than `=`, `]`, `"`; values may hold any byte, with `"`, `\` and `]` escaped.
    static func scanElement(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> StructuredDataElement? {
        guard start < end, f[start] == 0x5B else { return nil }
        let idStart = start &+ 1
        let idEnd = scanName(f, idStart, end)
        guard idEnd > idStart else { return nil }
        var i = idEnd
        while i < end {
            let c = f[i]
            if c == 0x5D {
                return StructuredDataElement(range: start..<(i &+ 1), id: idStart..<idEnd, parameters: idEnd..<i)
            }
            guard c == 0x20, let param = scanParameter(f, i &+ 1, end) else { return nil }
            i = param.rawValue.upperBound &+ 1
        }
        return nil
    }

    /// Reads `name="value"` starting at `start`; the value range ends at its closing quote.
    static func scanParameter(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> StructuredDataParameter? {
        let nameEnd = scanName(f, start, end)
        guard nameEnd > start, nameEnd &+ 1 < end, f[nameEnd] == 0x3D, f[nameEnd &+ 1] == 0x22 else { return nil }
        let valueStart = nameEnd &+ 2
        var i = valueStart
        while i < end {
            let c = f[i]
            if c == 0x22 { return StructuredDataParameter(name: start..<nameEnd, rawValue: valueStart..<i) }
            i &+= c == 0x5C ? 2 : 1
        }
        return nil
    }

    /// The end of an SD-NAME starting at `start`: at most 32 bytes of 33...126 except `=`, `]`, `"`.
    /// Returns `start` when there is no name there.
    @inline(__always)
    static func scanName(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int {
        let limit = min(end, start &+ 32)
        var i = start
        while i < limit {
            let c = f[i]
            guard c > 0x20, c < 0x7F, c != 0x3D, c != 0x5D, c != 0x22 else { return i }
            i &+= 1
        }
        // A 33rd name byte makes the name too long: report no name at all.
        if i == start &+ 32, i < end {
            let c = f[i]
            if c > 0x20, c < 0x7F, c != 0x3D, c != 0x5D, c != 0x22 { return start }
        }
        return i
    }
}

/// Walks the parameters of one structured-data element without allocating.
public struct StructuredDataParameterReader: IteratorProtocol {
    private let frame: UnsafeRawBufferPointer
    private var position: Int
    private let end: Int

    /// A reader over an element's `parameters` range (clamped to the frame).
    public init(_ frame: UnsafeRawBufferPointer, range: Range<Int>) {
        self.frame = frame
        self.end = min(max(range.upperBound, 0), frame.count)
        self.position = min(max(range.lowerBound, 0), self.end)
    }

    /// The next parameter, or nil after the last one or at malformed input.
    public mutating func next() -> StructuredDataParameter? {
        guard position < end, frame[position] == 0x20,
              let param = StructuredDataReader.scanParameter(frame, position &+ 1, end) else {
            position = end
            return nil
        }
        position = param.rawValue.upperBound &+ 1
        return param
    }
}
