// Drives `qcompress serve` with the official openai npm package: the OpenAI and AzureOpenAI
// classes, chat and completions, streamed and not, and the errors the client raises.
// Env: QCW_NPM_DIR (where scripts/npm-test-deps.sh installed openai), BASE (http://127.0.0.1:PORT),
// KEY, MODEL, PROMPT, EXPECT (greedy continuation of PROMPT per `qcompress generate --greedy`),
// MAX (its token count). Prints one JSON object; exits 1 with a message on the first mismatch.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as nodeBuffer from 'node:buffer';

// openai 6 asks for Node 20; Debian 12's own nodejs is 18, which lacks only the global File
// (node:buffer has it since 18.13), as the client's own message suggests.
if (typeof globalThis.File === 'undefined' && nodeBuffer.File) globalThis.File = nodeBuffer.File;

const require = createRequire(path.join(process.env.QCW_NPM_DIR, 'noop.js'));
const { OpenAI, AzureOpenAI } = require('openai');

const { BASE, KEY, MODEL, PROMPT, EXPECT } = process.env;
const MAX = Number(process.env.MAX);
const results = {};
function check(cond, what) {
  if (!cond) {
    console.error(`openai_client: ${what}`);
    console.log(JSON.stringify(results));
    process.exit(1);
  }
}

async function errorOf(promise) {
  try { await promise; } catch (e) { return e; }
  return null;
}

const client = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: KEY, maxRetries: 0 });
const azure = new AzureOpenAI({ endpoint: BASE, apiKey: KEY, apiVersion: '2024-10-21', deployment: MODEL, maxRetries: 0 });
const greedy = { temperature: 0, max_tokens: MAX, ignore_eos: true };

// models
const models = await client.models.list();
results.models = models.data.map((m) => m.id);
check(results.models.includes(MODEL), `models.list lacks ${MODEL}: ${results.models}`);

// completions, plain and streamed: the greedy continuation, token for token
const comp = await client.completions.create({ model: MODEL, prompt: PROMPT, ...greedy });
results.completion = comp.choices[0].text;
check(comp.object === 'text_completion', `completion object ${comp.object}`);
check(comp.choices[0].text === EXPECT, `completion text ${JSON.stringify(comp.choices[0].text)} != ${JSON.stringify(EXPECT)}`);
check(comp.usage.completion_tokens === MAX, `completion_tokens ${comp.usage.completion_tokens} != ${MAX}`);
check(comp.choices[0].finish_reason === 'length', `finish_reason ${comp.choices[0].finish_reason}`);

let streamed = '';
let finish = null;
let usage = null;
const cs = await client.completions.create({ model: MODEL, prompt: PROMPT, stream: true, stream_options: { include_usage: true }, ...greedy });
for await (const chunk of cs) {
  if (chunk.choices.length) {
    streamed += chunk.choices[0].text;
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}
check(streamed === EXPECT, `streamed completion ${JSON.stringify(streamed)} != ${JSON.stringify(EXPECT)}`);
check(finish === 'length', `streamed completion finish_reason ${finish}`);
check(usage && usage.completion_tokens === MAX && usage.total_tokens === usage.prompt_tokens + MAX, `stream usage ${JSON.stringify(usage)}`);

// chat, plain and streamed, through both classes: the same greedy answer four times
const messages = [{ role: 'system', content: 'You answer questions about FortiGate on Azure.' },
                  { role: 'user', content: 'How do I open port 443?' }];
const chat = await client.chat.completions.create({ model: MODEL, messages, ...greedy });
check(chat.object === 'chat.completion', `chat object ${chat.object}`);
check(chat.choices[0].message.role === 'assistant', 'chat role');
const answer = chat.choices[0].message.content;
results.chat = answer;
results.chatFinish = chat.choices[0].finish_reason;
check(chat.usage.completion_tokens >= 1, 'chat usage');

async function streamedChat(c, extra = {}) {
  let text = '';
  let role = null;
  let fin = null;
  const s = await c.chat.completions.create({ model: MODEL, messages, stream: true, ...greedy, ...extra });
  for await (const chunk of s) {
    check(chunk.object === 'chat.completion.chunk', `chunk object ${chunk.object}`);
    const d = chunk.choices[0]?.delta ?? {};
    if (d.role) role = d.role;
    if (d.content) text += d.content;
    if (chunk.choices[0]?.finish_reason) fin = chunk.choices[0].finish_reason;
  }
  check(role === 'assistant', `streamed role ${role}`);
  check(fin === chat.choices[0].finish_reason, `streamed finish_reason ${fin}`);
  return text;
}
check((await streamedChat(client)) === answer, 'OpenAI streamed chat differs from the plain answer');
const az = await azure.chat.completions.create({ model: MODEL, messages, ...greedy });
check(az.choices[0].message.content === answer, 'AzureOpenAI chat differs');
check((await streamedChat(azure)) === answer, 'AzureOpenAI streamed chat differs');
const azc = await azure.completions.create({ model: MODEL, prompt: PROMPT, ...greedy });
check(azc.choices[0].text === EXPECT, 'AzureOpenAI completion differs');

// a stop string ends the answer before it and is not returned
const stopAt = EXPECT.slice(Math.floor(EXPECT.length / 2), Math.floor(EXPECT.length / 2) + 3);
const stopped = await client.completions.create({ model: MODEL, prompt: PROMPT, stop: [stopAt], ...greedy });
check(stopped.choices[0].finish_reason === 'stop', `stop finish_reason ${stopped.choices[0].finish_reason}`);
check(stopped.choices[0].text === EXPECT.slice(0, EXPECT.indexOf(stopAt)),
      `stop ${JSON.stringify(stopAt)}: ${JSON.stringify(stopped.choices[0].text)}`);

// seeded sampling repeats itself
const sampled = async () => (await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 12, temperature: 0.9, top_p: 0.9, seed: 7 })).choices[0].text;
check((await sampled()) === (await sampled()), 'same seed, different samples');

// errors as the client raises them
const bad = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
const e401 = await errorOf(bad.models.list());
check(e401 instanceof OpenAI.AuthenticationError && e401.status === 401, `wrong key: ${e401}`);
const e400 = await errorOf(client.chat.completions.create({ model: MODEL, messages, n: 2 }));
check(e400 instanceof OpenAI.BadRequestError && e400.param === 'n', `n=2: ${e400}`);
const e404 = await errorOf(client.chat.completions.create({ model: 'no-such-model', messages }));
check(e404 instanceof OpenAI.NotFoundError && e404.code === 'model_not_found', `unknown model: ${e404}`);
const azBad = new AzureOpenAI({ endpoint: BASE, apiKey: 'wrong-key', apiVersion: '2024-10-21', deployment: MODEL, maxRetries: 0 });
const eaz = await errorOf(azBad.chat.completions.create({ model: MODEL, messages }));
check(eaz instanceof OpenAI.AuthenticationError, `Azure wrong key: ${eaz}`);

console.log(JSON.stringify(results));
