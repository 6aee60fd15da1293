import Testing
@testable import VigilCore

/// Rates that drift across a threshold, with the noise of real traffic, read the way `vigil analyze`
/// reads them (`LogAnalysis`): one alert per real condition with the default quiet periods, where
/// resolving at once (`resolve_after = "0s"`, the behaviour before the quiet period) flaps.
@Suite struct DetectRealisticDayTests {
    /// 2026-11-22T06:00:00Z: the day's lines start here.
    static let start = CivilDateTime(year: 2026, month: 11, day: 22, hour: 6).timestamp().seconds

    /// A day of one host's requests compressed to its two threshold crossings: from 7 req/s the rate
    /// rises at 2.6 req/s per hour (a working morning) to 13, stays there an hour, and falls back the
    /// same way (about 200,000 requests). Each 10 s the rate is scaled by a factor in 0.6...1.4 (real
    /// traffic comes in bursts), and each second's count is drawn around it. `share(s)` is the
    /// fraction of 5xx answers at second `s`. One CSV line per request (the file is named after its
    /// host), in time order.
    static func day(seconds: Int, seed: UInt64, rate: (Int) -> Double, share: (Int) -> Double) -> [[UInt8]] {
        var random = SeededRandom(seed: seed)
        var lines: [[UInt8]] = []
        var factor = 1.0
        for s in 0..<seconds {
            if s % 10 == 0 { factor = 0.6 + Double(random.below(801)) / 1000 }
            // 40 trials of probability r/40: a count with mean r, near a Poisson draw.
            let p = rate(s) * factor / 40
            var n = 0
            for _ in 0..<40 where Double(random.below(1_000_000)) < p * 1_000_000 { n += 1 }
            for _ in 0..<n {
                let status = Double(random.below(1_000_000)) < share(s) * 1_000_000 ? 503 : 200
                let client = "10.0.\(random.below(4)).\(1 + random.below(250))"
                lines.append(Array("\"\(client)\",\"-\",\"-\",\(start + Int64(s)),\"GET /shop HTTP/1.1\",\(status),512".utf8))
            }
        }
        return lines
    }

    /// The alerts `vigil analyze` reports for `lines` of host `web1` with `settings`.
    static func analyze(_ lines: [[UInt8]], _ settings: DetectionSettings) -> [Alert] {
        var a = LogAnalysis(settings: settings, options: .init(referenceTime: Timestamp(seconds: start)))
        let source = a.addSource(name: "web1", host: "web1")
        for line in lines { line.withUnsafeBytes { a.feed($0, source: source) } }
        a.finish()
        return a.report().alerts
    }

    static func states(_ alerts: [Alert], _ rule: RuleID, _ scope: Alert.Scope) -> [Alert.State] {
        alerts.filter { $0.rule == rule && $0.scope == scope }.map(\.state)
    }

    @Test func trafficCrossingTenReqPerSecondTwiceIsOneAlert() {
        let ramp = 8_308  // 6 req/s at 2.6 req/s per hour
        let lines = Self.day(seconds: 2 * ramp + 3600, seed: 7, rate: { s in
            s < ramp ? 7 + 6 * Double(s) / Double(ramp) : s < ramp + 3600 ? 13 : 13 - 6 * Double(s - ramp - 3600) / Double(ramp)
        }, share: { _ in 0.01 })
        #expect(lines.count > 190_000 && lines.count < 220_000)
        let alerts = Self.analyze(lines, DetectionSettings())
        for scope in [Alert.Scope.host, .global] {
            #expect(Self.states(alerts, .httpHighTraffic, scope) == [.firing, .resolved])
        }
        #expect(alerts.filter { $0.rule == .httpErrorBurst }.isEmpty)
        // The same day resolving at once: the alert flaps at each crossing.
        var immediate = DetectionSettings()
        immediate[.httpHighTraffic].resolveAfterMicroseconds = 0
        #expect(Self.states(Self.analyze(lines, immediate), .httpHighTraffic, .host).count > 10)
    }

    @Test func errorShareCrossingHalfIsOneAlert() {
        // Two hours at about 5 req/s; the 5xx share rises from 20 % to 60 % over an hour and falls back.
        let lines = Self.day(seconds: 7200, seed: 11, rate: { _ in 5 }, share: { s in
            0.2 + 0.4 * Double(s < 3600 ? s : 7200 - s) / 3600
        })
        let alerts = Self.analyze(lines, DetectionSettings())
        #expect(Self.states(alerts, .httpErrorBurst, .host) == [.firing, .resolved])
        var immediate = DetectionSettings()
        immediate[.httpErrorBurst].resolveAfterMicroseconds = 0
        #expect(Self.states(Self.analyze(lines, immediate), .httpErrorBurst, .host).count > 10)
    }
}
