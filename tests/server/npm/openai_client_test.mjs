// The official `openai` npm client against a running strata server (started by the gtest
// NpmClient.OfficialOpenAIClient, which passes STRATA_URL / STRATA_MODEL / STRATA_API_KEY).
// Exits non-zero with a message on the first mismatch.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `${process.env.STRATA_URL}/v1`;
const model = process.env.STRATA_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.STRATA_API_KEY ?? 'none', maxRetries: 0, timeout: 60000 });

async function main() {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [model]);

  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say something.' },
  ];
  const whole = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices.length, 1);
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.equal(typeof whole.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(whole.choices[0].finish_reason));
  assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);

  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);

  const completion = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  assert.equal(completion.object, 'text_completion');
  assert.equal(typeof completion.choices[0].text, 'string');
  const cstream = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, stream: true,
  });
  let ctext = '';
  for await (const chunk of cstream) ctext += chunk.choices[0]?.text ?? '';
  assert.equal(ctext, completion.choices[0].text);

  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found',
  );
  await assert.rejects(
    client.chat.completions.create({ model, messages, temperature: 7 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature',
  );
  console.log('openai npm client: ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
