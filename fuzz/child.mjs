// A fuzz child process: runs the cases the parent sends ({ id, dir, exercise }) one at a time and answers
// { id, result }. The parent kills it on a hang and counts its death during a case as a crash.
import { classify, EXERCISES } from './exercise.mjs';

let current = null;
process.on('unhandledRejection', (e) => process.send({ id: current, result: classify(e, 'unhandled rejection'), late: true }));
process.on('message', async ({ id, dir, exercise = 'model' }) => {
  current = id;
  const result = await EXERCISES[exercise](dir);
  process.send({ id, result });
});
process.on('disconnect', () => process.exit(0)); // the parent is gone
process.send({ ready: true });
