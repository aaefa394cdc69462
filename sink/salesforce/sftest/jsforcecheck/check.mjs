// Checks the retl Salesforce emulator against jsforce: every answer jsforce
// cannot parse, or parses to something a real org would not send, is a bug
// in the emulator. Usage: node check.mjs BASE_URL
// The emulator must run with its default credentials and a query batch size
// of 200 (the Go test does that).
import jsforce from 'jsforce';

const base = process.argv[2];
if (!base) {
  console.error('usage: node check.mjs BASE_URL');
  process.exit(2);
}
const version = '58.0';
let step = 'start';

function fail(msg) {
  console.error(`jsforcecheck: ${step}: ${msg}`);
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) fail(msg);
}
function eq(got, want, what) {
  if (got !== want) fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
const isId = (id, prefix) => typeof id === 'string' && id.length === 18 && id.startsWith(prefix);

function tune(conn) {
  conn.bulk2.pollInterval = 20;
  conn.bulk2.pollTimeout = 30000;
  return conn;
}

async function main() {
  step = 'SOAP login';
  const soap = tune(new jsforce.Connection({ loginUrl: base, version }));
  const info = await soap.login('demo@example.com', 'demo');
  check(isId(info.id, '005'), `user id ${info.id}`);
  check(isId(info.organizationId, '00D'), `org id ${info.organizationId}`);
  eq(soap.instanceUrl, base, 'instanceUrl');

  step = 'OAuth2 password login';
  const conn = tune(new jsforce.Connection({
    oauth2: { loginUrl: base, clientId: 'retl', clientSecret: 'retl' },
    version,
  }));
  const uinfo = await conn.login('demo@example.com', 'demo');
  check(isId(uinfo.id, '005'), `user id ${uinfo.id}`);
  eq(conn.instanceUrl, base, 'instanceUrl');

  step = 'bad password';
  let rejected = false;
  try {
    await new jsforce.Connection({ oauth2: { loginUrl: base, clientId: 'retl', clientSecret: 'retl' }, version })
      .login('demo@example.com', 'wrong');
  } catch (e) {
    rejected = true;
    eq(e.name, 'invalid_grant', 'error name');
    eq(e.message, 'authentication failure', 'error message');
  }
  check(rejected, 'a wrong password was accepted');

  step = 'describe';
  const d = await conn.describe('Account');
  eq(d.name, 'Account', 'describe name');
  const ext = d.fields.find((f) => f.name === 'External_Id__c');
  check(ext && ext.externalId && ext.unique && ext.idLookup, 'External_Id__c is not an external id');
  const name = d.fields.find((f) => f.name === 'Name');
  check(name && !name.nillable && name.createable && name.length === 255, 'Account.Name metadata');
  const cd = await conn.describe('Contact');
  const acc = cd.fields.find((f) => f.name === 'AccountId');
  check(acc && acc.referenceTo[0] === 'Account' && acc.relationshipName === 'Account', 'Contact.AccountId metadata');
  const global = await conn.describeGlobal();
  check(global.sobjects.some((o) => o.name === 'Opportunity' && o.keyPrefix === '006'), 'global describe');

  step = 'session refresh';
  // An expired session answers 401 INVALID_SESSION_ID; jsforce logs in
  // again and retries, for REST and for Bulk API 2.0 alike.
  const expire = () => fetch(`${base}/__sftest/expire-sessions`, { method: 'POST' });
  const tokenBefore = conn.accessToken;
  await expire();
  const limits = await conn.limits();
  check(limits.DailyApiRequests && limits.DailyApiRequests.Max > 0, 'limits after refresh');
  check(conn.accessToken !== tokenBefore, 'the token was refreshed');
  await expire();
  const probe = conn.bulk2.createJob({ object: 'Account', operation: 'insert' });
  await probe.open();
  await probe.abort();

  step = 'Bulk 2.0 insert';
  let res = await conn.bulk2.loadAndWaitForResults({
    object: 'Account',
    operation: 'insert',
    input: [
      { Name: 'Acme', External_Id__c: 'A-1', NumberOfEmployees: 10 },
      { Name: 'Globex', External_Id__c: 'A-2' },
      { Name: '', External_Id__c: 'A-3' },
      { Name: 'Initech', External_Id__c: 'A-1' },
    ],
  });
  eq(res.successfulResults.length, 2, 'successful rows');
  eq(res.failedResults.length, 2, 'failed rows');
  eq(res.unprocessedRecords.length, 0, 'unprocessed rows');
  for (const r of res.successfulResults) {
    check(isId(r.sf__Id, '001'), `sf__Id ${r.sf__Id}`);
    eq(r.sf__Created, 'true', 'sf__Created');
  }
  const byExt = Object.fromEntries(res.successfulResults.map((r) => [r.External_Id__c, r.sf__Id]));
  check(byExt['A-1'] && byExt['A-2'], 'successful rows keep their columns');
  const missing = res.failedResults.find((r) => r.External_Id__c === 'A-3');
  check(missing && missing.sf__Error === 'REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --',
    `sf__Error for a missing Name: ${missing && missing.sf__Error}`);
  eq(missing.sf__Id, '', 'sf__Id of a failed insert');
  const dup = res.failedResults.find((r) => r.Name === 'Initech');
  check(dup && dup.sf__Error.startsWith('DUPLICATE_VALUE:duplicate value found: External_Id__c duplicates value on record with id: '),
    `sf__Error for a duplicate: ${dup && dup.sf__Error}`);

  step = 'Bulk 2.0 upsert';
  const upsertJob = conn.bulk2.createJob({ object: 'Account', operation: 'upsert', externalIdFieldName: 'External_Id__c' });
  await upsertJob.open();
  await upsertJob.uploadData('External_Id__c,Name,NumberOfEmployees\nA-1,Acme Corp,11\nA-4,Hooli,\nA-5,Umbrella,lots\n');
  await upsertJob.close();
  await upsertJob.poll();
  const info2 = await upsertJob.check();
  eq(info2.numberRecordsProcessed, 3, 'numberRecordsProcessed');
  eq(info2.numberRecordsFailed, 1, 'numberRecordsFailed');
  res = await upsertJob.getAllResults();
  eq(res.successfulResults.length, 2, 'upsert successful rows');
  const updated = res.successfulResults.find((r) => r.External_Id__c === 'A-1');
  eq(updated.sf__Created, 'false', 'sf__Created of an update');
  eq(updated.sf__Id, byExt['A-1'], 'sf__Id of an update');
  const created = res.successfulResults.find((r) => r.External_Id__c === 'A-4');
  eq(created.sf__Created, 'true', 'sf__Created of an insert');
  eq(res.failedResults[0].sf__Error, 'INVALID_TYPE_ON_FIELD_IN_RECORD:Employees: value not of required type: lots:NumberOfEmployees --', 'sf__Error of a bad number');

  step = 'Bulk 2.0 delete';
  res = await conn.bulk2.loadAndWaitForResults({
    object: 'Account',
    operation: 'delete',
    input: [{ Id: byExt['A-2'] }, { Id: '001000000000000AAA' }],
  });
  eq(res.successfulResults.length, 1, 'deleted rows');
  eq(res.successfulResults[0].sf__Id, byExt['A-2'], 'deleted Id');
  eq(res.failedResults.length, 1, 'failed deletes');
  check(res.failedResults[0].sf__Error.startsWith('INVALID_CROSS_REFERENCE_KEY:'), `delete error ${res.failedResults[0].sf__Error}`);

  step = 'sObject Collections create';
  const contacts = await conn.sobject('Contact').create([
    { LastName: 'Smith', Account: { External_Id__c: 'A-1' }, External_Id__c: 'C-1' },
    { LastName: 'Jones', External_Id__c: 'C-2' },
    { FirstName: 'NoLast' },
  ], { allOrNone: false });
  eq(contacts.length, 3, 'results');
  check(contacts[0].success && isId(contacts[0].id, '003'), 'first contact created');
  check(contacts[1].success, 'second contact created');
  check(!contacts[2].success && contacts[2].errors[0].statusCode === 'REQUIRED_FIELD_MISSING', `third contact: ${JSON.stringify(contacts[2])}`);
  const smith = await conn.sobject('Contact').retrieve(contacts[0].id);
  eq(smith.AccountId, byExt['A-1'], 'AccountId resolved from the external id');

  step = 'sObject Collections allOrNone';
  let threw = false;
  try {
    await conn.sobject('Contact').create([{ LastName: 'Ok' }, { FirstName: 'Bad' }], { allOrNone: true });
  } catch (e) {
    threw = true;
  }
  if (!threw) {
    const r = await conn.sobject('Contact').create([{ LastName: 'Ok2' }, { FirstName: 'Bad2' }], { allOrNone: true });
    eq(r[0].errors[0].statusCode, 'ALL_OR_NONE_OPERATION_ROLLED_BACK', 'rolled back record');
  }
  const okCount = await conn.query("SELECT COUNT() FROM Contact WHERE LastName IN ('Ok', 'Ok2')");
  eq(okCount.totalSize, 0, 'rolled back records stay out');

  step = 'sObject Collections update';
  const upd = await conn.sobject('Contact').update([
    { Id: contacts[0].id, Title: 'CEO' },
    { Id: contacts[1].id, LastName: null },
  ], { allOrNone: false });
  check(upd[0].success, 'update succeeded');
  check(!upd[1].success && upd[1].errors[0].statusCode === 'REQUIRED_FIELD_MISSING', `update error ${JSON.stringify(upd[1])}`);

  step = 'sObject Collections upsert';
  const ups = await conn.sobject('Contact').upsert([
    { External_Id__c: 'C-1', Title: 'CTO' },
    { External_Id__c: 'C-3', LastName: 'New' },
  ], 'External_Id__c', { allOrNone: false });
  check(ups[0].success && ups[0].created === false && ups[0].id === contacts[0].id, `upsert update ${JSON.stringify(ups[0])}`);
  check(ups[1].success && ups[1].created === true && isId(ups[1].id, '003'), `upsert insert ${JSON.stringify(ups[1])}`);

  step = 'sObject Collections delete';
  const del = await conn.sobject('Contact').destroy([ups[1].id, ups[1].id.slice(0, 15)], { allOrNone: false });
  check(del[0].success, 'delete succeeded');
  check(!del[1].success && del[1].errors[0].statusCode === 'ENTITY_IS_DELETED', `second delete ${JSON.stringify(del[1])}`);

  step = 'paged query';
  const leads = [];
  for (let i = 0; i < 450; i++) leads.push({ LastName: `Lead ${i}`, Company: 'Acme', External_Id__c: `L-${i}` });
  res = await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'insert', input: leads });
  eq(res.successfulResults.length, 450, 'leads inserted');
  const all = await conn.query('SELECT Id, Name, External_Id__c FROM Lead ORDER BY External_Id__c').run({ autoFetch: true, maxFetch: 10000 });
  eq(all.totalSize, 450, 'totalSize');
  eq(all.records.length, 450, 'autoFetch records');
  eq(new Set(all.records.map((r) => r.Id)).size, 450, 'distinct records');
  let page = await conn.query('SELECT Id FROM Lead');
  eq(page.done, false, 'first page done');
  eq(page.records.length, 200, 'first page size');
  let n = page.records.length;
  let pages = 1;
  while (!page.done) {
    page = await conn.queryMore(page.nextRecordsUrl);
    n += page.records.length;
    pages++;
  }
  eq(n, 450, 'queryMore records');
  eq(pages, 3, 'pages');
  const rel = await conn.query("SELECT LastName, Account.Name FROM Contact WHERE Account.External_Id__c = 'A-1'");
  eq(rel.records.length, 1, 'relationship query');
  eq(rel.records[0].Account.Name, 'Acme Corp', 'Account.Name');

  step = 'queryAll';
  const deleted = await conn.query("SELECT Id, IsDeleted FROM Account WHERE External_Id__c = 'A-2'").scanAll(true);
  eq(deleted.records.length, 1, 'queryAll sees the deleted record');
  eq(deleted.records[0].IsDeleted, true, 'IsDeleted');

  step = 'Bulk 2.0 hardDelete';
  const gone = await conn.sobject('Account').create({ Name: 'Purged', External_Id__c: 'A-9' });
  res = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'hardDelete', input: [{ Id: gone.id }] });
  eq(res.successfulResults.length, 1, 'hard-deleted rows');
  eq(res.successfulResults[0].sf__Id, gone.id, 'hard-deleted Id');
  const purged = await conn.query("SELECT Id FROM Account WHERE External_Id__c = 'A-9'").scanAll(true);
  eq(purged.records.length, 0, 'queryAll does not see a hard-deleted record');

  step = 'assignment rules';
  const seeded = await fetch(`${base}/__sftest/records/AssignmentRule`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ Name: 'Round robin', SobjectType: 'Lead', Active: true }),
  });
  eq(seeded.status, 201, 'seeding a rule');
  const ruleId = (await seeded.json()).id;
  const rules = await conn.query("SELECT Id FROM AssignmentRule WHERE SobjectType = 'Lead' AND Active = true");
  eq(rules.records.length, 1, 'active Lead rules');
  eq(rules.records[0].Id, ruleId, 'active rule Id');
  res = await conn.bulk2.loadAndWaitForResults({
    object: 'Lead', operation: 'insert', assignmentRuleId: ruleId, input: [{ LastName: 'Assigned', Company: 'Acme' }],
  });
  eq(res.successfulResults.length, 1, 'assigned lead inserted');
  const jobs = await (await fetch(`${base}/__sftest/jobs`)).json();
  eq(jobs[jobs.length - 1].assignmentRuleId, ruleId, 'the job keeps its rule');
  const saved = await conn.sobject('Lead').create([{ LastName: 'Unassigned', Company: 'Acme' }], { headers: { 'Sforce-Auto-Assign': 'FALSE' } });
  check(saved[0].success, `REST create with the header: ${JSON.stringify(saved)}`);
  const log = await (await fetch(`${base}/__sftest/requests`)).json();
  const saves = log.filter((r) => r.method === 'POST' && r.path.endsWith('/composite/sobjects'));
  eq(saves[saves.length - 1].autoAssign, 'FALSE', 'the header reaches the emulator');

  console.log('jsforcecheck: ok');
}

main().catch((e) => fail(`${e.name}: ${e.message}`));
