// Shared by the syslog fuzz targets: parses a frame afresh and with a memo that has seen another
// frame, and checks the fields.
import VigilCore

func checkParse(_ frame: UnsafeRawBufferPointer) {
    let received = Timestamp(seconds: 1_795_000_000)
    let parser = SyslogParser(utcOffsetSeconds: 3600)
    let fresh = parser.parse(frame, receivedAt: received)
    var memo = TimestampMemo()
    let warmup = Array("<13>1 2026-11-22T10:00:00Z h a - - - x".utf8)
    warmup.withUnsafeBytes { _ = parser.parse($0, receivedAt: received, memo: &memo) }
    let memoized = parser.parse(frame, receivedAt: received, memo: &memo)
    precondition(fresh == memoized, "a timestamp memo changed what was read")
    for range in [fresh.hostname, fresh.appName, fresh.procID, fresh.msgID, fresh.structuredData, fresh.text] {
        precondition(range.lowerBound >= 0 && range.upperBound <= frame.count, "a field outside the frame")
    }
    var reader = StructuredDataReader(frame, range: fresh.structuredData)
    while let element = reader.next() {
        precondition(element.range.upperBound <= frame.count, "an element outside the frame")
        var params = reader.parameters(of: element)
        while let p = params.next() { precondition(p.rawValue.upperBound <= element.range.upperBound, "a parameter outside its element") }
    }
}
