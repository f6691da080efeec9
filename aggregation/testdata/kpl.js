// Runs the npm package aws-kinesis-agg for the interoperability tests.
//
//   node kpl.js aggregate   < [{"partitionKey": "...", "explicitHashKey": "..." (optional), "data": "<base64>"}, ...]
//     prints [{"partitionKey": "...", "explicitHashKey": "..." or null, "data": "<base64>"}, ...],
//     the Kinesis records that aws-kinesis-agg aggregates the user records into.
//
//   node kpl.js deaggregate < [{"partitionKey": "...", "data": "<base64>"}, ...]
//     prints, for each Kinesis record, {"error": "..."} or {"records": [{"partitionKey": "...",
//     "explicitHashKey": "..." or null, "data": "<base64>", "subSequenceNumber": n or null}, ...]}.
//
// aws-kinesis-agg is found through NODE_PATH.
'use strict';

const fs = require('fs');
const agg = require('aws-kinesis-agg');

const mode = process.argv[2];
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = [];

if (mode === 'aggregate') {
  const records = input.map((r) => {
    const rec = { partitionKey: r.partitionKey, data: Buffer.from(r.data, 'base64') };
    if (r.explicitHashKey) {
      rec.explicitHashKey = r.explicitHashKey;
    }
    return rec;
  });
  const aggregator = new agg.RecordAggregator();
  // aggregateRecords calls back synchronously for every full record and,
  // with forceFlush, for the last one.
  aggregator.aggregateRecords(records, true, (err, encoded) => {
    if (err) {
      throw err;
    }
    const ehk = encoded.ExplicitHashKey || encoded.explicitHashKey;
    out.push({
      partitionKey: encoded.partitionKey,
      explicitHashKey: ehk === undefined ? null : ehk,
      data: encoded.data.toString('base64'),
    });
  });
} else if (mode === 'deaggregate') {
  for (const r of input) {
    const result = {};
    agg.deaggregateSync({ partitionKey: r.partitionKey, data: r.data, sequenceNumber: '1' }, true, (err, userRecords) => {
      if (err) {
        result.error = String(err);
        return;
      }
      if (userRecords === undefined) {
        return;
      }
      result.records = userRecords.map((u) => ({
        partitionKey: u.partitionKey,
        explicitHashKey: u.explicitPartitionKey === undefined ? null : u.explicitPartitionKey,
        data: u.data,
        subSequenceNumber: u.subSequenceNumber === undefined ? null : u.subSequenceNumber,
      }));
    });
    out.push(result);
  }
} else {
  process.stderr.write('usage: node kpl.js aggregate|deaggregate < records.json\n');
  process.exit(2);
}

process.stdout.write(JSON.stringify(out));
