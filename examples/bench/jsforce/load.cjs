// Loads rows into Account with jsforce, the peer retl is measured against.
//
//   node load.cjs BASE_URL bulk POLL_MS file.csv [more.csv ...]
//   node load.cjs BASE_URL rest POLL_MS records.json
//
// bulk: one Bulk API 2.0 upsert job per CSV file, streamed from disk,
// through bulk2.loadAndWaitForResults (the way jsforce's documentation
// loads a file). rest: sObject Collections upserts of 200 records each,
// through sobject().upsert with allowRecursive.
// Prints one JSON line: wall seconds (login to results), rows written and
// failed, and the bytes this process wrote (sockets included).
//
// CommonJS, so that NODE_PATH finds the jsforce install of
// sink/salesforce/sftest/jsforcecheck.
'use strict';
const fs = require('node:fs');
const jsforce = require('jsforce');

function io() {
  const out = {};
  for (const line of fs.readFileSync('/proc/self/io', 'utf8').split('\n')) {
    const [k, v] = line.split(': ');
    if (k) out[k] = Number(v);
  }
  return out;
}

async function main() {
  const [base, api, poll, ...files] = process.argv.slice(2);
  if (!base || !files.length || (api !== 'bulk' && api !== 'rest')) {
    console.error('usage: node load.cjs BASE_URL bulk|rest POLL_MS FILE...');
    process.exit(2);
  }
  const t0 = process.hrtime.bigint();
  const conn = new jsforce.Connection({
    oauth2: { loginUrl: base, clientId: 'retl', clientSecret: 'retl' },
    version: '62.0',
  });
  await conn.login('demo@example.com', 'demo');
  let ok = 0;
  let failed = 0;
  if (api === 'bulk') {
    conn.bulk2.pollInterval = Number(poll);
    conn.bulk2.pollTimeout = 3600 * 1000;
    for (const file of files) {
      const res = await conn.bulk2.loadAndWaitForResults({
        object: 'Account',
        operation: 'upsert',
        externalIdFieldName: 'External_Id__c',
        input: fs.createReadStream(file),
      });
      ok += res.successfulResults.length;
      failed += res.failedResults.length + res.unprocessedRecords.length;
    }
  } else {
    for (const file of files) {
      const records = JSON.parse(fs.readFileSync(file, 'utf8'));
      const res = await conn.sobject('Account').upsert(records, 'External_Id__c', { allowRecursive: true, allOrNone: false });
      for (const r of res) {
        if (r.success) ok++;
        else failed++;
      }
    }
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ wall, ok, failed, wchar: io().wchar }));
}

main().catch((e) => {
  console.error('jsforce load failed:', e && e.stack ? e.stack : e);
  process.exit(1);
});
