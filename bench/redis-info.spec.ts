import { commandStats, infoFields } from './redis-info';

describe("reading Redis's INFO", () => {
  it('takes the numeric fields of a section and skips its header and text values', () => {
    const info = '# Stats\r\ntotal_commands_processed:1234\r\ntotal_net_input_bytes:56789\r\nmaxmemory_policy:noeviction\r\n';
    expect(infoFields(info)).toEqual({ total_commands_processed: 1234, total_net_input_bytes: 56789 });
  });

  it('takes calls and microseconds per command from commandstats', () => {
    const info = [
      '# Commandstats',
      'cmdstat_evalsha:calls=10,usec=1500,usec_per_call=150.00,rejected_calls=0,failed_calls=0',
      'cmdstat_set:calls=4,usec=8,usec_per_call=2.00,rejected_calls=0,failed_calls=0',
    ].join('\r\n');
    expect(commandStats(info)).toEqual({ evalsha: { calls: 10, usec: 1500 }, set: { calls: 4, usec: 8 } });
  });
});
