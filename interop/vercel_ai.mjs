// The Vercel AI SDK: a multi-step tool loop with streamText, as the SDK's docs write it:
// tools with zod input schemas and execute functions, `stopWhen: isStepCount(n)`; the SDK
// runs the tools and keeps the history between steps itself.
//
// Usage: node vercel_ai.mjs PROVIDER BASE_URL
//   PROVIDER: openai-responses (the OpenAI provider's default model, the Responses API),
//             openai-chat (`.chat()`), anthropic, gemini
//   BASE_URL: the server's root; each provider is given the prefix its package expects
//             (/v1, or /v1beta for Google).
//
// Prints one JSON object on stdout, one entry per step (model turn), as the SDK
// assembled it: {"turns": [{"text": "...", "tool_calls": [{"id", "name", "input"}]}]}.
// Any warning the SDK logs goes to standard error, where the test sees it.

import { streamText, tool, isStepCount } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { z } from 'zod';

const MODEL = 'mock-1';
const PROMPT = "What's the weather in Paris, Tokyo and Osaka, and should I take an umbrella?";
const API_KEY = 'interop-key';

const [provider, base] = process.argv.slice(2);
if (!provider || !base) {
  throw new Error('usage: node vercel_ai.mjs PROVIDER BASE_URL');
}
const root = base.replace(/\/+$/, '');

function model() {
  switch (provider) {
    case 'openai-responses':
      return createOpenAI({ baseURL: `${root}/v1`, apiKey: API_KEY })(MODEL);
    case 'openai-chat':
      return createOpenAI({ baseURL: `${root}/v1`, apiKey: API_KEY }).chat(MODEL);
    case 'anthropic':
      return createAnthropic({ baseURL: `${root}/v1`, apiKey: API_KEY })(MODEL);
    case 'gemini':
      return createGoogleGenerativeAI({ baseURL: `${root}/v1beta`, apiKey: API_KEY })(MODEL);
    default:
      throw new Error(`unknown provider ${provider}`);
  }
}

// The same deterministic answers as interop/demo_tools.py.
const WEATHER = {
  Paris: { temperature: 21, conditions: 'sunny' },
  Tokyo: { temperature: 17, conditions: 'light rain' },
  Osaka: { temperature: 19, conditions: 'dry' },
};

const tools = {
  get_weather: tool({
    description: 'Current weather in a city.',
    inputSchema: z.object({
      city: z.string().describe('City name'),
      unit: z.enum(['celsius', 'fahrenheit']).optional(),
    }),
    execute: async ({ city, unit }) => ({
      city,
      unit: unit ?? 'celsius',
      ...(WEATHER[city] ?? { temperature: 20, conditions: 'unknown' }),
    }),
  }),
  get_time: tool({
    description: 'Local time in an IANA time zone.',
    inputSchema: z.object({ timezone: z.string().describe('e.g. Asia/Tokyo') }),
    execute: async ({ timezone }) => ({ timezone, time: '2025-06-01T18:30:00' }),
  }),
  search: tool({
    description: 'Web search; returns the top results.',
    inputSchema: z.object({
      query: z.string(),
      limit: z.number().int().describe('How many results').optional(),
    }),
    execute: async ({ query, limit }) => ({
      query,
      results: Array.from({ length: limit ?? 3 }, (_, i) => `result ${i + 1} for ${query}`),
    }),
  }),
  get_forecast: tool({
    description: 'Weather forecast for the next days in a city.',
    inputSchema: z.object({ city: z.string(), days: z.number().int() }),
    execute: async ({ city, days }) => ({
      city,
      days: Array.from({ length: days }, (_, d) => ({ day: d + 1, conditions: 'clearing' })),
    }),
  }),
};

const result = streamText({
  model: model(),
  tools,
  stopWhen: isStepCount(6),
  prompt: PROMPT,
  // Set, as the Anthropic API requires a limit (the SDK warns when it has to pick one for a
  // model it does not know).
  maxOutputTokens: 1024,
  maxRetries: 0,
});

// Read the stream as an app does; an error part fails the loop.
let streamed = '';
for await (const part of result.fullStream) {
  if (part.type === 'text-delta') {
    streamed += part.text;
  } else if (part.type === 'error') {
    throw part.error;
  }
}

const steps = await result.steps;
const turns = steps.map((step) => ({
  text: step.text,
  tool_calls: step.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
}));
const joined = turns.map((t) => t.text).join('');
if (streamed !== joined) {
  throw new Error(`streamed text ${JSON.stringify(streamed)} != steps' text ${JSON.stringify(joined)}`);
}
process.stdout.write(`${JSON.stringify({ turns })}\n`);
