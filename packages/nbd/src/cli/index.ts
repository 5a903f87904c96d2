export const runNbdCli = async (): Promise<number> => 0; export type NbdCliIo = object;
